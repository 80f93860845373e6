import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { assertBuilt, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { sleep } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { countFields, plantSessions } from '../helpers/sessions.js';

/*
 * Redis SIGKILLed and restarted on the same port in the middle of a sharded sweep run by a worker
 * process and followed by `redisession cleanup --wait`, with and without persistence. Private
 * servers: the shared one must not go down.
 */

const BUCKETS = 16384; // batches of 5: a sweep of a few seconds, long enough to be hit mid-way
const workers: WorkerProcess[] = [];
const servers: RedisServer[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map(killWorker));
  await Promise.all(servers.splice(0).map((s) => s.destroy()));
});

async function sweepUnderway(args: string[], extra: Record<string, string> = {}) {
  const redis = await startRedisServer(args);
  servers.push(redis);
  const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  admin.on('error', () => {});
  const prefix = `sweep-outage-${randomBytes(3).toString('hex')}:`;
  await plantSessions(admin, prefix, BUCKETS, 3000, 1000);
  const env = {
    REDIS_URL: redis.url,
    QUEUE_NAME: `q-${randomBytes(4).toString('hex')}`,
    SESSION_PREFIX: prefix,
    SESSION_BUCKETS: String(BUCKETS),
    CLEANUP_SCHEDULE: 'off',
    CLEANUP_GRACE: '0',
    CLEANUP_SHARDS: '2',
    CLEANUP_BATCH: '5',
    // no worker dies here: a short lock would only let a slow (loaded) machine see stalls
    WORKER_LOCK_DURATION: '30s',
    ...extra,
  };
  const w = startWorker(env);
  workers.push(w);
  await w.ready;
  const cli = runCli(['cleanup', '--wait', '--json'], env, 120_000);
  await w.waitForLog((l) => l.msg === 'shard started');
  await sleep(300);
  expect(w.logs.some((l) => l.msg === 'sweep finished')).toBe(false); // the kill lands mid-sweep
  return { redis, admin, prefix, env, w, cli };
}

describe('Redis SIGKILLed and restarted in the middle of a sharded sweep', () => {
  it('with AOF: the shards retry, resume from their checkpoints, and the sweep completes with the right totals', async () => {
    assertBuilt();
    const { redis, admin, prefix, w, cli } = await sweepUnderway(['--appendonly', 'yes', '--appendfsync', 'everysec']);
    // SIGKILL of the process: every acknowledged write was already written to the AOF file (fsync
    // every second only matters when the machine itself goes down)
    await redis.stop(true);
    await sleep(500);
    await redis.restart();
    const out = await cli;
    expect(out.code, out.stderr).toBe(0);
    const summary = JSON.parse(out.stdout);
    expect(summary.buckets).toBe(BUCKETS);
    expect(summary.deleted).toBeLessThanOrEqual(3000); // a batch in flight at the kill may go uncounted
    expect(summary.deleted).toBeGreaterThan(2900);
    expect(await countFields(admin, prefix)).toBe(1000); // every expired session gone, every live one kept
    // the worker saw the outage (whether a shard failed and resumed, or its commands just waited
    // for the reconnect, depends on what was in flight at the kill)
    expect(w.logs.some((l) => /^cannot reach Redis at/.test(String(l.msg)))).toBe(true);
    admin.disconnect();
  }, 90_000);

  it('without persistence: the sweep is gone with the data, cleanup --wait says so, the worker carries on', async () => {
    assertBuilt();
    // a schedule far away, so that none runs during the test, but one that exists
    const { redis, admin, prefix, env, w, cli } = await sweepUnderway([], {
      CLEANUP_SCHEDULE: 'on',
      CLEANUP_CRON: '0 0 1 1 *',
    });
    await redis.stop(true);
    await sleep(500);
    await redis.restart();
    const out = await cli;
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/disappeared from the queue/);
    // the worker is still there, and puts back the schedule that went with Redis's memory
    await w.waitForLog((l) => /schedule .*restored/.test(String(l.msg)), 20_000);
    expect(w.proc.exitCode).toBe(null);
    const q = new Queue(env.QUEUE_NAME, { connection: admin, prefix: '{redisession}' });
    expect(await q.getJobSchedulersCount()).toBe(1);
    await q.close();
    // and sweeps again: nothing left to sweep, every session went with Redis's memory
    expect(await countFields(admin, prefix)).toBe(0);
    const again = await runCli(['cleanup', '--wait', '--json'], env, 60_000);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ buckets: BUCKETS, scanned: 0, deleted: 0 });
    admin.disconnect();
  }, 90_000);
});
