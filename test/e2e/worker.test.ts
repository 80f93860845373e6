import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dropQueues, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { countFields, plantSessions } from '../helpers/sessions.js';

const raw = rawClient();
const workers: WorkerProcess[] = [];
const prefixes: string[] = [];
const queues: Array<{ name: string }> = [];

beforeAll(assertBuilt);
afterEach(async () => {
  await Promise.all(workers.splice(0).map(killWorker));
});
afterAll(async () => {
  for (const p of prefixes) await dropPrefix(raw, p);
  await dropQueues(queues.map((q) => q.name));
});

/** A fresh queue and session prefix per test, and fast stall detection. */
function setup(buckets: number, extra: Record<string, string> = {}) {
  const prefix = testPrefix('worker');
  const queue = `q-${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  queues.push({ name: queue });
  const env: Record<string, string> = {
    REDIS_URL: redisUrl(),
    QUEUE_NAME: queue,
    SESSION_PREFIX: prefix,
    SESSION_BUCKETS: String(buckets),
    CLEANUP_SCHEDULE: 'off',
    CLEANUP_GRACE: '0',
    CLEANUP_SHARDS: '2',
    WORKER_LOCK_DURATION: '2s',
    WORKER_STALLED_INTERVAL: '1s',
    ...extra,
  };
  const worker = (more: Record<string, string> = {}) => {
    const w = startWorker({ ...env, ...more });
    workers.push(w);
    return w;
  };
  return { prefix, queue, env, worker };
}

const plant = (prefix: string, buckets: number, expired: number, live: number, client: Redis = raw) =>
  plantSessions(client, prefix, buckets, expired, live);
const fields = (prefix: string) => countFields(raw, prefix);

describe('redisession worker + cleanup --wait', () => {
  it('sweeps through the worker and reports a summary that matches Redis', async () => {
    const { prefix, env, worker } = setup(1024);
    await plant(prefix, 1024, 700, 300);
    const w = worker();
    await w.ready;
    const dry = await runCli(['cleanup', '--wait', '--json', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      buckets: 1024,
      scanned: 1000,
      deleted: 700,
      dryRun: true,
      shards: 2,
    });
    expect(await fields(prefix)).toBe(1000);

    const out = await runCli(['cleanup', '--wait', '--json', '--shards', '4', '--batch', '50'], env);
    expect(out.code).toBe(0);
    const summary = JSON.parse(out.stdout);
    expect(summary).toMatchObject({ buckets: 1024, scanned: 1000, deleted: 700, shards: 4, strategy: 'full' });
    expect(summary.durationMs).toBeGreaterThan(0);
    expect(out.stderr).toMatch(/progress: \d+\/1024 buckets/); // plain progress lines when not a TTY
    expect(await fields(prefix)).toBe(300);

    const existing = await runCli(['cleanup', '--wait', '--json', '--strategy', 'existing'], env);
    // one shard: SCAN cannot be split by bucket range without every shard scanning everything
    expect(JSON.parse(existing.stdout)).toMatchObject({ scanned: 300, deleted: 0, strategy: 'existing', shards: 1 });
    // the worker logged each shard and the sweep, as JSON lines
    const finished = await w.waitForLog((l) => l.msg === 'sweep finished' && l.dryRun === false && l.deleted === 700);
    expect(finished).toMatchObject({ scanned: 1000, shards: 4 });
    expect(w.logs.filter((l) => l.msg === 'shard finished').length).toBeGreaterThanOrEqual(4);
  });

  it('without --wait prints the queued request and returns at once', async () => {
    const { env } = setup(64);
    const out = await runCli(['cleanup', '--json', '--shards', '3'], env);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ queued: true, shards: 3 });
  });

  it("sweeps the store the shell names, with the worker's layout; a request for another store is refused", async () => {
    const { prefix, env, worker } = setup(128);
    await plant(prefix, 128, 40, 10);
    await worker().ready;
    // the shell names the store (SESSION_PREFIX) and nothing else: its SESSION_BUCKETS is not asked
    const shell = { REDIS_URL: env.REDIS_URL as string, QUEUE_NAME: env.QUEUE_NAME as string, SESSION_PREFIX: prefix };
    const out = await runCli(['cleanup', '--wait', '--json'], { ...shell, SESSION_BUCKETS: '' });
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ buckets: 128, scanned: 50, deleted: 40, store: { prefix } });
    // a shell with no SESSION_* asks for store rs:, which this worker does not serve: refused, untouched
    const bare = await runCli(['cleanup', '--wait', '--json'], { ...shell, SESSION_PREFIX: '' });
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/the workers on queue q-\w+ serve store ".*", not "rs:"/);
    expect(JSON.parse(bare.stdout).error).toMatch(/for store "rs:" refused: this worker serves store ".*worker/);
  });

  it('answers "nothing to sweep" for a string-mode store', async () => {
    const { env, worker } = setup(64, { SESSION_MODE: 'string' });
    await worker().ready;
    const out = await runCli(['cleanup', '--wait', '--json'], env);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      skipped: true,
      deleted: 0,
      reason: expect.stringMatching(/string/),
    });
  });

  it('fails the sweep visibly when a shard fails', async () => {
    // sessions on a Redis that goes away once the worker runs; the queue on the shared one
    const sessions = await startRedisServer();
    try {
      const { env, worker } = setup(64, {
        REDIS_URL: sessions.url,
        QUEUE_REDIS_URL: redisUrl(),
        CLEANUP_ATTEMPTS: '1',
      });
      await worker().ready;
      await sessions.stop(true);
      const out = await runCli(['cleanup', '--wait', '--json'], env);
      expect(out.code).toBe(1);
      expect(JSON.parse(out.stdout)).toMatchObject({
        failed: true,
        error: expect.stringMatching(/shard \d+ failed: /),
      });
      expect(out.stderr).toMatch(/sweep failed: shard \d+ failed: .*(max retries|ECONNREFUSED|Connection|timed out)/i);
    } finally {
      await Promise.all(workers.splice(0).map(killWorker));
      await sessions.destroy();
    }
  });
});

describe('faults', () => {
  it('SIGTERM mid-sweep: exits 0 after its batch, and a restarted worker completes the sweep', async () => {
    const buckets = 65536;
    const { prefix, env, worker } = setup(buckets, { CLEANUP_BATCH: '5' });
    await plant(prefix, buckets, 3000, 1000);
    const first = worker();
    await first.ready;
    const cli = runCli(['cleanup', '--wait', '--json'], env, 120_000);
    await first.waitForLog((l) => l.msg === 'shard started');
    await new Promise((r) => setTimeout(r, 300));
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(first.logs.some((l) => l.msg === 'shard paused for shutdown')).toBe(true);
    expect(first.logs.some((l) => l.msg === 'sweep finished')).toBe(false);

    const second = worker();
    await second.waitForLog((l) => l.msg === 'shard resumed');
    const out = await cli;
    expect(out.code).toBe(0);
    // checkpoints carry the counts across the restart: nothing lost, nothing counted twice
    expect(JSON.parse(out.stdout)).toMatchObject({ buckets, scanned: 4000, deleted: 3000 });
    expect(await fields(prefix)).toBe(1000);
  }, 90_000); // about 7 s alone; room for a busy neighbour file on 2 cores

  it('SIGKILL mid-shard: the other worker picks the shard up and finishes it', async () => {
    const buckets = 65536;
    const { prefix, env, worker } = setup(buckets, { CLEANUP_BATCH: '5', WORKER_CONCURRENCY: '1' });
    await plant(prefix, buckets, 3000, 1000);
    const a = worker();
    const b = worker();
    await Promise.all([a.ready, b.ready]);
    const cli = runCli(['cleanup', '--wait', '--json'], env, 120_000);
    await a.waitForLog((l) => l.msg === 'shard started');
    await new Promise((r) => setTimeout(r, 300));
    a.proc.kill('SIGKILL');
    await a.exited;
    const out = await cli;
    expect(out.code).toBe(0);
    const summary = JSON.parse(out.stdout);
    expect(summary.buckets).toBe(buckets);
    // the batch in flight when A died may have deleted sessions it never reported: at most one batch
    expect(summary.deleted).toBeLessThanOrEqual(3000);
    expect(summary.deleted).toBeGreaterThan(2900);
    expect(b.logs.some((l) => l.msg === 'shard resumed')).toBe(true);
    expect(await fields(prefix)).toBe(1000); // but Redis is exactly right
  }, 90_000);
});

describe('WORKER_NICE', () => {
  it('the worker runs at niceness 10 by default, at what WORKER_NICE says, and never lower than it was started', async () => {
    const { worker } = setup(16);
    const base = getPriority();
    const byDefault = worker();
    const zero = worker({ WORKER_NICE: '0' });
    const five = worker({ WORKER_NICE: '5' });
    await Promise.all([byDefault.ready, zero.ready, five.ready]);
    expect(getPriority(byDefault.proc.pid)).toBe(Math.max(base, 10));
    expect(getPriority(zero.proc.pid)).toBe(base);
    expect(getPriority(five.proc.pid)).toBe(Math.max(base, 5));
    const ready = byDefault.logs.find((l) => l.msg === 'worker ready') as { nice?: number } | undefined;
    expect(ready?.nice).toBe(Math.max(base, 10));
  }, 60_000);
});

describe('schedule', () => {
  it('two workers starting together leave exactly one scheduler, which sweeps', async () => {
    const { prefix, queue, env, worker } = setup(256, { CLEANUP_SCHEDULE: 'on', CLEANUP_EVERY: '1h' });
    await plant(prefix, 256, 50, 10);
    const [a, b] = [worker(), worker()];
    await Promise.all([a.ready, b.ready]);
    const conn = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const q = new Queue(queue, { connection: conn, prefix: '{redisession}' });
    expect(await q.getJobSchedulersCount()).toBe(1);
    await q.close();
    await conn.quit();
    // the first run of an `every` schedule starts right away
    const done = await Promise.race([
      a.waitForLog((l) => l.msg === 'sweep finished'),
      b.waitForLog((l) => l.msg === 'sweep finished'),
    ]);
    expect(done).toMatchObject({ deleted: 50 });
    const shown = await runCli(['schedule', '--json'], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({ every: '1h', cron: null });
    const changed = await runCli(['schedule', '--cron', '*/30 * * * *', '--tz', 'UTC', '--json'], env);
    expect(JSON.parse(changed.stdout)).toMatchObject({ cron: '*/30 * * * *', tz: 'UTC', every: null });
    const removed = await runCli(['schedule', '--remove', '--json'], env);
    expect(removed.stdout.trim()).toBe('null');
  });

  it('--every is bounded as CLEANUP_EVERY is; a schedule beyond a Date (set by other tools) is shown, not an error', async () => {
    const { queue, env, worker } = setup(16);
    const refused = await runCli(['schedule', '--every', '300000000d'], env);
    expect(refused.code).toBe(2);
    const w = worker();
    await w.ready;
    const conn = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const q = new Queue(queue, { connection: conn, prefix: '{redisession}' });
    try {
      await q.upsertJobScheduler('redisession-sweep', { every: 300_000_000 * 86_400_000 }, { name: 'sweep' });
      // once a worker took the first run, the next one is dated past what a Date can hold
      await w.waitForLog((l) => l.msg === 'sweep finished');
      const shown = await runCli(['schedule', '--json'], env);
      expect(shown.code, shown.stderr).toBe(0);
      expect(JSON.parse(shown.stdout)).toMatchObject({ every: '300000000d', next: null });
      const doctor = await runCli(['doctor', '--json'], env);
      const { findings } = JSON.parse(doctor.stdout) as { findings: Array<{ check: string; message: string }> };
      expect(findings.map((f) => f.check)).not.toContain('queue-redis.connect');
      expect(findings.find((f) => f.check === 'queue.schedule')?.message).toMatch(/every 300000000d/);
    } finally {
      await q.close();
      await conn.quit();
    }
  });

  it('schedule --remove holds across a connection blip (only a schedule lost with Redis is restored)', async () => {
    const own = await startRedisServer(); // CLIENT KILL must not reach the other files' clients
    const admin = new Redis(own.url);
    try {
      const { env, worker } = setup(16, { REDIS_URL: own.url, CLEANUP_SCHEDULE: 'on', CLEANUP_EVERY: '1h' });
      const w = worker();
      await w.ready;
      await w.waitForLog((l) => l.msg === 'sweep finished'); // the first run of an `every` schedule is at once
      const removed = await runCli(['schedule', '--remove', '--json'], env);
      expect(removed.stdout.trim()).toBe('null');
      const sweeps = () => w.logs.filter((l) => l.msg === 'sweep started').length;
      const before = sweeps();
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal'); // every client but this one: the worker reconnects
      const after = await w.waitForLog((l) => /sweep schedule.*reconnect/.test(String(l.msg)));
      expect(after.msg).toMatch(/removed on purpose/);
      expect(JSON.parse((await runCli(['schedule', '--json'], env)).stdout)).toBeNull();
      expect(sweeps()).toBe(before);

      // a Redis that lost everything (FLUSHALL stands for a restart without persistence): restored
      await admin.flushall();
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal');
      await w.waitForLog((l) => /missing after a reconnect/.test(String(l.msg)));
      expect(JSON.parse((await runCli(['schedule', '--json'], env)).stdout)).toMatchObject({ every: '1h' });
    } finally {
      admin.disconnect();
      await Promise.all(workers.splice(0).map(killWorker));
      await own.destroy();
    }
  });

  it('warns at start when maxmemory-policy could evict BullMQ keys', async () => {
    const lru = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
    try {
      const { worker } = setup(16, { REDIS_URL: lru.url });
      const w = worker();
      await w.ready;
      const warn = await w.waitForLog((l) => String(l.msg).includes('noeviction'));
      expect(warn).toMatchObject({ level: 40, maxmemoryPolicy: 'allkeys-lru' });
    } finally {
      await Promise.all(workers.splice(0).map(killWorker));
      await lru.destroy();
    }
  });
});

describe('operations', () => {
  it('a second signal exits at once, without waiting for the shutdown', async () => {
    // A private server we can freeze with DEBUG SLEEP, so the graceful stop is still under way
    // when the second signal comes.
    const frozen = await startRedisServer(['--enable-debug-command', 'yes']);
    const buckets = 65536;
    const { env, worker } = setup(buckets, { REDIS_URL: frozen.url, CLEANUP_BATCH: '2', SHUTDOWN_TIMEOUT: '60s' });
    const admin = new Redis(frozen.url);
    try {
      const w = worker();
      await w.ready;
      void runCli(['cleanup'], env);
      await w.waitForLog((l) => l.msg === 'shard started');
      await admin.ping(); // connected, so the DEBUG SLEEP goes out at once
      void admin.call('DEBUG', 'SLEEP', '3').catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
      w.proc.kill('SIGTERM');
      await w.waitForLog((l) => l.msg === 'shutting down: finishing the batch under way');
      const second = Date.now();
      w.proc.kill('SIGTERM');
      const exit = await w.exited;
      expect(exit.code).toBe(1);
      expect(Date.now() - second).toBeLessThan(2000); // did not wait for Redis to wake up
      expect(w.logs.some((l) => l.msg === 'second signal: exiting now')).toBe(true);
    } finally {
      admin.disconnect();
      await frozen.destroy();
    }
  });

  it('never logs the Redis password, from the worker or the CLI', async () => {
    const secret = `pw-${randomBytes(6).toString('hex')}`;
    const locked = await startRedisServer(['--requirepass', secret]);
    try {
      const url = `redis://:${secret}@127.0.0.1:${locked.port}`;
      const { env, worker } = setup(64, { REDIS_URL: url, CLEANUP_SCHEDULE: 'on', LOG_LEVEL: 'debug' });
      const w = worker();
      await w.ready;
      const out = await runCli(['cleanup', '--wait', '--json'], env);
      expect(out.code).toBe(0);
      const stats = await runCli(['stats'], env);
      const bad = await runCli(['stats'], { ...env, SESSION_BUCKETS: 'x' });
      expect(bad.code).toBe(2);
      const ready = await w.waitForLog((l) => l.msg === 'worker ready');
      expect(ready.redis).toContain('***');
      const everything = JSON.stringify(w.logs) + out.stdout + out.stderr + stats.stdout + stats.stderr + bad.stderr;
      expect(everything).not.toContain(secret);
    } finally {
      await Promise.all(workers.splice(0).map(killWorker));
      await locked.destroy();
    }
  });

  it('reads .env from the working directory, with the environment taking precedence', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'redisession-env-'));
    try {
      writeFileSync(join(dir, '.env'), 'CLEANUP_SHARDS=lots\nLOG_LEVEL=chatty\n');
      const fromFile = await runCli(['stats'], { REDIS_URL: redisUrl() }, 30_000, dir);
      expect(fromFile.code).toBe(2);
      expect(fromFile.stderr).toMatch(/CLEANUP_SHARDS="lots"/);
      const overridden = await runCli(
        ['stats'],
        { REDIS_URL: redisUrl(), CLEANUP_SHARDS: '3', LOG_LEVEL: 'info' },
        30_000,
        dir,
      );
      expect(overridden.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
