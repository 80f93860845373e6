import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSessionStore } from 'redisession';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writesCoalesced } from '../../src/redis/coalesce.js';
import { assertBuilt, dropQueues, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { startLoad } from '../helpers/load.js';
import { redisUrl, sleep, testPrefix } from '../helpers/redis.js';
import { startSentinels } from '../helpers/redis-cluster.js';
import { plantExpired, sid } from '../helpers/sessions.js';

// One master, one replica and three sentinels for this file only.
const topo = await startSentinels();
const viaSentinel = { sentinels: topo.sentinels, name: topo.masterName };
const workers: WorkerProcess[] = [];
const queues: string[] = [];

beforeAll(assertBuilt);
afterEach(async () => {
  await Promise.all(workers.splice(0).map(killWorker));
});
afterAll(async () => {
  await dropQueues(queues);
  await topo.destroy();
});

describe('worker configuration for Sentinel', () => {
  it('needs both REDIS_SENTINELS and REDIS_SENTINEL_MASTER, and well-formed', async () => {
    const noMaster = await runCli(['cleanup'], { REDIS_URL: '', REDIS_SENTINELS: topo.addresses.join(',') });
    expect(noMaster.code).toBe(2);
    expect(noMaster.stderr).toMatch(/REDIS_SENTINEL_MASTER=\(unset\): expected the master name/);
    const noSentinels = await runCli(['cleanup'], { REDIS_URL: '', REDIS_SENTINEL_MASTER: 'm' });
    expect(noSentinels.code).toBe(2);
    expect(noSentinels.stderr).toMatch(/REDIS_SENTINELS=\(unset\)/);
    const bad = await runCli(['cleanup'], { REDIS_URL: '', REDIS_SENTINELS: 'a:b', REDIS_SENTINEL_MASTER: 'm' });
    expect(bad.stderr).toMatch(/REDIS_SENTINELS="a:b": expected a comma-separated list of host:port/);
  });
});

describe('master killed during a web load and a worker sweep', () => {
  it('recovers onto the promoted replica; replicated writes survive; the sweep completes', async () => {
    const prefix = testPrefix('sentinel');
    const queue = `q-${randomBytes(4).toString('hex')}`;
    queues.push(queue);
    const store = createSessionStore({ redis: viaSentinel, prefix, inlineSweep: 0 });
    expect(writesCoalesced(store.redis)).toBe(true); // the failover below runs with coalesced writes
    const planter = new Redis(viaSentinel);
    planter.on('error', () => {});
    const master = new Redis(topo.master.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
    master.on('error', () => {});
    const oldMasterPort = topo.master.port;

    // Acknowledged AND replicated before the kill (WAIT 1 confirms the replica has them).
    const replicated = Array.from({ length: 2000 }, sid);
    await Promise.all(replicated.map((id, i) => store.set(id, { i })));
    await plantExpired(planter, prefix, 1500);
    expect(await master.call('WAIT', '1', '5000')).toBe(1);

    // The queue on another Redis: this test is about the sessions' failover (BullMQ's is BullMQ's).
    const env = {
      REDIS_URL: '',
      REDIS_SENTINELS: topo.addresses.join(','),
      REDIS_SENTINEL_MASTER: topo.masterName,
      QUEUE_REDIS_URL: redisUrl(),
      QUEUE_NAME: queue,
      SESSION_PREFIX: prefix,
      CLEANUP_SCHEDULE: 'off',
      CLEANUP_GRACE: '0',
      CLEANUP_SHARDS: '2',
      CLEANUP_BATCH: '10',
      CLEANUP_ATTEMPTS: '10',
    };
    const w = startWorker(env);
    workers.push(w);
    await w.ready;

    let killedAt = Number.POSITIVE_INFINITY;
    const acked: Array<{ id: string; start: number; end: number }> = [];
    // writes refused during the failover are counted as failures: the client was told, nothing to
    // lose; one whose reply the kill cut off may still have reached the replica, so they are kept
    const refused: string[] = [];
    const load = startLoad(
      async () => {
        const id = sid();
        const start = Date.now();
        try {
          await store.set(id, { load: true });
        } catch (err) {
          refused.push(id);
          throw err;
        }
        acked.push({ id, start, end: Date.now() });
      },
      { pauseMs: 4, failPauseMs: 20, maxMs: 170_000 },
    );
    const sweep = runCli(['cleanup', '--wait', '--json'], env, 180_000);
    await w.waitForLog((l) => l.msg === 'shard started');
    await sleep(300);
    killedAt = Date.now();
    await topo.master.stop(true); // SIGKILL: no chance to flush anything to the replica
    const out = await sweep;
    // keep the load on until writes have gone through the new master for a while
    const deadline = Date.now() + 60_000;
    while (!acked.some((a) => a.start > killedAt) && Date.now() < deadline) await sleep(50);
    await sleep(1000);
    await load.stop();

    const firstAfter = acked.filter((a) => a.start > killedAt).sort((a, b) => a.end - b.end)[0];
    const recoveryMs = firstAfter ? firstAfter.end - killedAt : null;
    const window = acked.filter((a) => a.start <= killedAt);
    const after = acked.filter((a) => a.start > killedAt);
    let windowLost = 0;
    for (const a of window) if ((await store.get(a.id)) === null) windowLost++;
    let refusedButStored = 0;
    for (const id of refused) if ((await store.get(id)) !== null) refusedButStored++;
    const summary = JSON.parse(out.stdout);
    // expired sessions the old master deleted but never replicated are back: the next sweep takes them
    const second = await store.sweep({ graceMs: 0 });
    console.log(
      `sentinel failover: ${replicated.length} replicated sessions before the load; load acknowledged ` +
        `${window.length} writes before the kill (${windowLost} lost) and ${after.length} after; ` +
        `${load.failures} writes refused during the failover (${refusedButStored} of them stored all the same); first write on the new master ${recoveryMs} ms after the kill; ` +
        `sweep ${JSON.stringify(summary)}, then a second sweep deleted ${second.deleted}; ` +
        `shard retries ${w.logs.filter((l) => l.msg === 'job failed, will retry').length}`,
    );

    expect(out.code, out.stderr).toBe(0);
    expect(await topo.currentMasterPort()).toBe(topo.replica.port);
    expect(topo.replica.port).not.toBe(oldMasterPort);
    expect(recoveryMs).not.toBeNull();
    // the kill hit the sweep: its connection broke (a shard failed and resumed, or its commands just
    // waited for the reconnect, depending on what was in flight at the kill)
    expect(w.logs.some((l) => /^cannot reach the sessions' Redis|job failed/.test(String(l.msg)))).toBe(true);
    expect(summary).toMatchObject({ buckets: 65536 });
    // every expired session is gone; the count is exact but for the batch in flight at the kill: one
    // that ran on the old master and reached the replica without its reply is redone and counts
    // nothing, one counted but not replicated is back and counted again by the second sweep
    expect((await store.sweep({ graceMs: 0, dry: true })).deleted).toBe(0);
    expect(Math.abs(summary.deleted + second.deleted - 1500)).toBeLessThanOrEqual(10);
    for (const [i, id] of replicated.entries()) expect(await store.get(id)).toEqual({ i });
    for (const a of after) expect(await store.get(a.id)).toEqual({ load: true });
    expect(await store.length()).toBe(replicated.length + window.length - windowLost + after.length + refusedButStored);

    await store.clear();
    await store.close();
    planter.disconnect();
    master.disconnect();
  }, 180_000);
});
