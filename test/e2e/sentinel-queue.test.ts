import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSessionStore } from 'redisession';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { testPrefix } from '../helpers/redis.js';
import { startSentinels } from '../helpers/redis-cluster.js';
import { plantExpired } from '../helpers/sessions.js';

// The BullMQ queue itself on a Sentinel-watched master (sentinel.test.ts keeps the queue elsewhere
// and fails over the sessions only): one master, one replica, three sentinels for this file.
const topo = await startSentinels('rsqueue');
const viaSentinel = { sentinels: topo.sentinels, name: topo.masterName };
const workers: WorkerProcess[] = [];

beforeAll(assertBuilt);
afterEach(async () => {
  await Promise.all(workers.splice(0).map(killWorker));
});
afterAll(async () => {
  await topo.destroy();
});

describe('the queue on Sentinel, through a master failover', () => {
  it('the worker keeps sweeping (requested and scheduled), and cleanup --wait completes or says why', async () => {
    const prefix = testPrefix('sq');
    const buckets = 4096;
    const planter = new Redis(viaSentinel);
    planter.on('error', () => {});
    const quiet = { debug() {}, warn() {}, error() {} }; // the failover's connection errors are expected
    const store = createSessionStore({ redis: viaSentinel, prefix, buckets, inlineSweep: 0, logger: quiet });
    const env = {
      REDIS_URL: '',
      REDIS_SENTINELS: topo.addresses.join(','),
      REDIS_SENTINEL_MASTER: topo.masterName,
      QUEUE_NAME: `q-${randomBytes(4).toString('hex')}`,
      SESSION_PREFIX: prefix,
      SESSION_BUCKETS: String(buckets),
      CLEANUP_SCHEDULE: 'on',
      CLEANUP_EVERY: '3s',
      CLEANUP_GRACE: '0',
      CLEANUP_SHARDS: '2',
      CLEANUP_BATCH: '4',
      CLEANUP_ATTEMPTS: '10',
      WORKER_LOCK_DURATION: '5s',
      WORKER_STALLED_INTERVAL: '2s',
    };
    try {
      await plantExpired(planter, prefix, 1000, buckets);
      const w = startWorker(env);
      workers.push(w);
      await w.ready;
      await w.waitForLog((l) => l.msg === 'sweep finished'); // the schedule's first run

      // a requested sweep under way when the master dies
      await plantExpired(planter, prefix, 1000, buckets);
      const during = runCli(['cleanup', '--wait', '--json'], env, 120_000);
      const requested = await w.waitForLog((l) => l.msg === 'sweep started' && l.origin === 'cli');
      await w.waitForLog((l) => l.msg === 'shard started' && l.sweepId === requested.sweepId);
      const killedAt = Date.now();
      await topo.master.stop(true);
      const out = await during;
      // it completes, or it ends saying why (a job the replica never received is gone with the old master)
      if (out.code !== 0) expect(out.stderr).toMatch(/disappeared from the queue|sweep failed: /);
      else expect(JSON.parse(out.stdout)).toMatchObject({ buckets });
      expect(await topo.currentMasterPort()).toBe(topo.replica.port);

      // the worker goes on against the promoted replica: a new request is carried out exactly...
      await store.sweep({ graceMs: 0 }); // (what the interrupted sweep left, counted by nobody)
      await plantExpired(planter, prefix, 500, buckets);
      const after = await runCli(['cleanup', '--wait', '--json'], env, 120_000);
      expect(after.code, after.stderr).toBe(0);
      expect(JSON.parse(after.stdout)).toMatchObject({ buckets });
      expect((await store.sweep({ graceMs: 0, dry: true })).deleted).toBe(0);
      // ...and the schedule still runs
      // (a scheduled one: the requested sweep above also logs "sweep finished", so wait for the
      // schedule's own start and for that sweep to finish)
      const next = await w.waitForLog(
        (l) => l.msg === 'sweep started' && l.origin === 'schedule' && Number(l.time) > killedAt,
        45_000,
      );
      await w.waitForLog((l) => l.msg === 'sweep finished' && l.sweepId === next.sweepId, 30_000);
      const scheduled = w.logs.filter(
        (l) => l.msg === 'sweep started' && l.origin === 'schedule' && Number(l.time) > killedAt,
      );
      console.log(
        `sentinel queue failover: the sweep under way ${out.code === 0 ? 'completed' : `ended with "${out.stderr.trim().split('\n').at(-1)}"`}; ` +
          `after the failover ${scheduled.length} scheduled sweep(s) started, and a requested one ${JSON.stringify(JSON.parse(after.stdout))}`,
      );
      expect(scheduled.length).toBeGreaterThan(0);
      expect(w.proc.exitCode).toBeNull();
    } finally {
      await store.clear().catch(() => {});
      await store.close();
      planter.disconnect();
    }
  }, 240_000);
});
