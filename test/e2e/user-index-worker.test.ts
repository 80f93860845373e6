import { randomBytes } from 'node:crypto';
import { createSessionStore } from 'redisession';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userIndexKey } from '../../src/keys/user-index-key.js';
import { assertBuilt, dropQueues, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { dropPrefix, rawClient, redisUrl, sleep, testPrefix } from '../helpers/redis.js';

const raw = rawClient();
const prefix = testPrefix('uidx-worker');
const queueName = `q-uidx-${randomBytes(4).toString('hex')}`;
let worker: WorkerProcess | null = null;

beforeAll(assertBuilt);
afterAll(async () => {
  if (worker) await killWorker(worker);
  await dropPrefix(raw, prefix);
  await dropQueues([queueName]);
});

const session = (user: string, maxAgeMs: number) => ({
  cookie: { expires: new Date(Date.now() + maxAgeMs).toISOString() },
  user,
});

describe('worker sweep with CLEANUP_USER_INDEX=on', () => {
  it('prunes index entries whose sessions expired, and keeps the live ones', async () => {
    const store = createSessionStore({
      redis: redisUrl(),
      prefix,
      buckets: 64,
      inlineSweep: 0,
      userId: (s) => s.user as string,
    });
    const users = Array.from({ length: 10 }, (_, i) => `u${i}`);
    for (const u of users) {
      await store.set(randomBytes(24).toString('base64url'), session(u, 600_000));
      for (let d = 0; d < 3; d++) await store.set(randomBytes(24).toString('base64url'), session(u, 200));
    }
    await store.close();
    await sleep(400);
    worker = startWorker({
      REDIS_URL: redisUrl(),
      QUEUE_NAME: queueName,
      SESSION_PREFIX: prefix,
      SESSION_BUCKETS: '64',
      CLEANUP_SCHEDULE: 'off',
      CLEANUP_GRACE: '0',
      CLEANUP_USER_INDEX: 'on',
    });
    await worker.ready;
    const run = await runCli(['cleanup', '--wait', '--json'], {
      REDIS_URL: redisUrl(),
      QUEUE_NAME: queueName,
      SESSION_PREFIX: prefix,
    });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { deleted: number; userIndex?: { indexes: number; removed: number } };
    // the write-time clean-up may already have dropped a few; the sweep took the rest
    const left = await Promise.all(users.map((u) => raw.hlen(userIndexKey(Buffer.from(prefix), u))));
    expect(left).toEqual(users.map(() => 1));
    expect(summary.userIndex?.indexes).toBe(10);
    expect(summary.userIndex?.removed).toBeGreaterThan(0);
    // (expired sessions alone in a bucket went with the bucket's own TTL; the rest the sweep deleted)
    expect(summary.deleted).toBeLessThanOrEqual(30);
  });
});
