import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../src/codec/envelope.js';
import { bucketKey, bucketWidth, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { assertBuilt, BIN, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { sleep } from '../helpers/redis.js';
import { freePort, type RedisServer, startRedisServer } from '../helpers/redis-server.js';

let redis: RedisServer;
let raw: Redis;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer();
  raw = new Redis(redis.url);
  raw.on('error', () => {}); // the healthz test stops this server on purpose
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map(killWorker));
});
afterAll(async () => {
  raw.disconnect();
  await redis.destroy();
});

async function startWithMetrics(extra: Record<string, string> = {}) {
  const port = await freePort();
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    QUEUE_NAME: `q-${randomBytes(4).toString('hex')}`,
    SESSION_PREFIX: `m:${randomBytes(4).toString('hex')}:`,
    SESSION_BUCKETS: '256',
    CLEANUP_SCHEDULE: 'off',
    CLEANUP_GRACE: '0',
    CLEANUP_SHARDS: '3',
    METRICS_PORT: String(port),
    ...extra,
  };
  const w = startWorker(env);
  workers.push(w);
  await w.ready;
  return { env, base: `http://127.0.0.1:${port}`, worker: w };
}

/** The value of one sample in Prometheus text format, or null when absent. */
function sample(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await sleep(100);
  }
}

const scrape = async (base: string) => (await fetch(`${base}/metrics`)).text();
const healthz = async (base: string) => {
  try {
    const res = await fetch(`${base}/healthz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch (err) {
    return { status: 0, body: { error: (err as Error).message } };
  }
};

describe('worker metrics (METRICS_PORT)', () => {
  it('a port already in use stops the worker at start with a message naming it', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as AddressInfo).port;
    try {
      const w = startWorker({ REDIS_URL: redis.url, CLEANUP_SCHEDULE: 'off', METRICS_PORT: String(port) });
      workers.push(w);
      await expect(w.ready).rejects.toThrow(new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}.*EADDRINUSE`));
      expect((await w.exited).code).toBe(1);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('counts what a sweep scanned and deleted, as its summary says, and reports queue depth', async () => {
    const { env, base } = await startWithMetrics();
    const before = await scrape(base);
    expect(sample(before, 'redisession_fields_scanned_total')).toBe(0);
    expect(sample(before, 'redisession_sweeps_total', 'outcome="failed"')).toBe(0); // every outcome from the start
    expect(before).toMatch(/^process_cpu_user_seconds_total /m); // default process metrics
    expect(sample(before, 'redisession_queue_jobs', 'state="waiting"')).toBe(0);
    expect(sample(before, 'redisession_redis_connected', 'connection="sessions"')).toBe(1);

    // 150 expired and 50 live sessions where the store would put them
    const prefix = Buffer.from(env.SESSION_PREFIX as string);
    const now = Date.now();
    const pipe = raw.pipeline();
    for (let i = 0; i < 200; i++) {
      const key = defaultKeyGenerator(randomBytes(24).toString('base64url'));
      const expiresAt = i < 150 ? now - 60_000 : now + 3_600_000;
      const value = encodeEnvelope({ serializer: 0, compressor: 0, expiresAt }, Buffer.from('{"u":1}'));
      pipe.hset(bucketKey(prefix, defaultBucketOf(key, 256), bucketWidth(256)), key, value);
    }
    await pipe.exec();

    const out = await runCli(['cleanup', '--wait', '--json'], env);
    expect(out.code).toBe(0);
    const summary = JSON.parse(out.stdout) as { scanned: number; deleted: number; shards: number };
    expect(summary).toMatchObject({ scanned: 200, deleted: 150, shards: 3 });

    // the summary job's 'completed' event may land just after the CLI has its answer
    const text = await poll(
      () => scrape(base),
      (t) => sample(t, 'redisession_sweeps_total', 'outcome="completed"') === 1,
      'the sweep to be counted',
    );
    expect(sample(text, 'redisession_fields_scanned_total')).toBe(summary.scanned);
    expect(sample(text, 'redisession_sessions_deleted_total')).toBe(summary.deleted);
    expect(sample(text, 'redisession_shard_duration_seconds_count')).toBe(summary.shards);
    expect(sample(text, 'redisession_shard_duration_seconds_bucket', 'le="+Inf"')).toBe(summary.shards);
    expect(sample(text, 'redisession_queue_jobs', 'state="active"')).toBe(0);
    expect(text).toMatch(/^# TYPE redisession_shard_duration_seconds histogram$/m);

    // a dry run scans but deletes nothing
    const dry = await runCli(['cleanup', '--wait', '--json', '--dry-run'], env);
    expect(JSON.parse(dry.stdout)).toMatchObject({ scanned: 50, deleted: 0 });
    const after = await poll(
      () => scrape(base),
      (t) => sample(t, 'redisession_sweeps_total', 'outcome="completed"') === 2,
      'the dry run to be counted',
    );
    expect(sample(after, 'redisession_fields_scanned_total')).toBe(250);
    expect(sample(after, 'redisession_sessions_deleted_total')).toBe(150);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('a failed sweep counts once, and each failed shard attempt', async () => {
    // sessions on a Redis that goes away once the worker runs; the queue on the other one
    const sessions = await startRedisServer();
    const { env, base } = await startWithMetrics({
      REDIS_URL: sessions.url,
      QUEUE_REDIS_URL: redis.url,
      CLEANUP_ATTEMPTS: '1',
      CLEANUP_SHARDS: '2',
    }).catch(async (err) => {
      await sessions.destroy();
      throw err;
    });
    await sessions.destroy();
    const out = await runCli(['cleanup', '--wait', '--json'], env);
    expect(out.code).toBe(1);
    const text = await poll(
      () => scrape(base),
      (t) => (sample(t, 'redisession_job_failures_total', 'job="sweep-shard",final="true"') ?? 0) === 2,
      'both shards to fail',
    );
    expect(sample(text, 'redisession_sweeps_total', 'outcome="failed"')).toBe(1);
    expect(sample(text, 'redisession_sweeps_total', 'outcome="completed"')).toBe(0);
    expect(sample(text, 'redisession_job_failures_total', 'job="sweep-summary",final="true"')).toBe(1);
    expect(sample(text, 'redisession_redis_connected', 'connection="sessions"')).toBe(0);
    expect((await healthz(base)).body).toMatchObject({ status: 'unhealthy', redis: { queue: 'ready' } });
  });

  it("a paused queue (a dashboard's pause button) shows in /healthz, the metrics, doctor and cleanup --wait", async () => {
    const { env, base } = await startWithMetrics();
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(env.QUEUE_NAME as string, { connection: conn, prefix: '{redisession}' });
    try {
      await queue.pause();
      const paused = await healthz(base);
      expect(paused).toMatchObject({ status: 503, body: { status: 'paused', queue: { paused: true } } });
      expect(sample(await scrape(base), 'redisession_queue_paused')).toBe(1);
      const doctor = await runCli(['doctor', '--json'], env);
      const { findings } = JSON.parse(doctor.stdout) as { findings: Array<{ check: string; severity: string }> };
      expect(findings.find((f) => f.check === 'queue.paused')).toMatchObject({ severity: 'warn' });

      // the CLI says why nothing happens, at once, and finishes once the queue is resumed
      const cli = spawn(process.execPath, [BIN, 'cleanup', '--wait', '--json'], { env: { ...process.env, ...env } });
      let stderr = '';
      let stdout = '';
      cli.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      cli.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      const exited = new Promise<number | null>((r) => cli.once('exit', r));
      await poll(
        async () => stderr,
        (t) => /paused|no worker has taken/.test(t),
        'the CLI to say why it waits',
      );
      expect(stderr).toMatch(/queue q-\w+ is paused .*: sweep request \d+ waits until it is resumed/);
      await queue.resume();
      expect(await exited).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ buckets: 256 });
      expect((await healthz(base)).status).toBe(200);
    } finally {
      await queue.resume();
      await queue.close();
      conn.disconnect();
    }
  });

  it('/healthz: 200 while healthy, 503 while Redis is down, 200 again once it is back', async () => {
    const { base, worker } = await startWithMetrics();
    const up = await healthz(base);
    expect(up.status).toBe(200);
    expect(up.body).toEqual({
      status: 'ok',
      redis: { queue: 'ready', sessions: 'ready' },
      worker: { running: true, paused: false, closing: false },
      queue: { paused: false },
    });

    // a frozen Redis (connections open, nothing answers) is down too
    redis.pause(true);
    const frozen = await poll(
      () => healthz(base),
      (h) => h.status !== 200,
      '/healthz to see a frozen Redis',
    );
    expect(frozen).toMatchObject({ status: 503, body: { redis: { queue: 'not answering' } } });
    redis.pause(false);
    await poll(
      () => healthz(base),
      (h) => h.status === 200,
      '/healthz to recover from the pause',
    );

    await redis.stop(true);
    const down = await poll(
      () => healthz(base),
      (h) => h.status !== 200,
      '/healthz to turn unhealthy',
    );
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unhealthy');
    expect(down.body.redis).not.toEqual({ queue: 'ready', sessions: 'ready' });
    const text = await scrape(base); // still answers, without queue gauges it cannot read
    expect(sample(text, 'redisession_redis_connected', 'connection="queue"')).toBe(0);
    expect(sample(text, 'redisession_queue_jobs', 'state="waiting"')).toBeNull();

    await redis.restart();
    const back = await poll(
      () => healthz(base),
      (h) => h.status === 200,
      '/healthz to recover',
      30_000,
    );
    expect(back.body.status).toBe('ok');
    expect(worker.proc.exitCode).toBeNull(); // the worker rode out the outage
  });
});
