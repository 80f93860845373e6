import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { createSessionStore, type SessionStore } from 'redisession';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dropQueues, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { startLoad } from '../helpers/load.js';
import { dropPrefix, testPrefix } from '../helpers/redis.js';
import { migrateSlots, startCluster } from '../helpers/redis-cluster.js';
import { plantExpired, sid } from '../helpers/sessions.js';

// A real 3-master Redis Cluster for this file only, every node password-protected (as in
// production); the worker and CLI run as child processes.
const password = randomBytes(12).toString('hex');
const cluster = await startCluster(3, { password });
const nodesEnv = cluster.addresses.join(',');
const client = new Cluster(
  cluster.addresses.map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })),
  {
    redisOptions: { maxRetriesPerRequest: null, password },
  },
);
const workers: WorkerProcess[] = [];
const stores: Array<{ store: SessionStore; prefix: string }> = [];
const queues: string[] = [];

beforeAll(assertBuilt);
afterEach(async () => {
  await Promise.all(workers.splice(0).map(killWorker));
});
afterAll(async () => {
  for (const { store, prefix } of stores) {
    for (const n of cluster.nodes) await dropPrefix(n.admin, prefix);
    await store.close();
  }
  await dropQueues(queues, client);
  client.disconnect();
  await cluster.destroy();
});

function setup(extra: Record<string, string> = {}) {
  const prefix = testPrefix('cw');
  const queue = `q-${randomBytes(4).toString('hex')}`;
  queues.push(queue);
  const store = createSessionStore({
    redis: { cluster: cluster.addresses, options: { redisOptions: { password } } },
    prefix,
    inlineSweep: 0,
  });
  stores.push({ store, prefix });
  const env: Record<string, string> = {
    REDIS_URL: '',
    REDIS_CLUSTER_NODES: nodesEnv,
    REDIS_PASSWORD: password,
    QUEUE_NAME: queue,
    SESSION_PREFIX: prefix,
    CLEANUP_SCHEDULE: 'off',
    CLEANUP_GRACE: '0',
    CLEANUP_SHARDS: '4',
    ...extra,
  };
  const worker = () => {
    const w = startWorker(env);
    workers.push(w);
    return w;
  };
  return { prefix, store, env, worker };
}

describe('worker configuration for Redis Cluster', () => {
  it('refuses a queue prefix that is not a hash tag, and ambiguous or malformed settings', async () => {
    const plain = await runCli(['cleanup'], { REDIS_URL: '', REDIS_CLUSTER_NODES: nodesEnv, QUEUE_PREFIX: 'rsq' });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/QUEUE_PREFIX="rsq": expected a hash tag such as \{redisession\} on Redis Cluster/);
    const both = await runCli(['cleanup'], { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: nodesEnv });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/REDIS_URL and REDIS_CLUSTER_NODES are set together/);
    const bad = await runCli(['cleanup'], { REDIS_URL: '', REDIS_CLUSTER_NODES: '127.0.0.1' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/REDIS_CLUSTER_NODES="127.0.0.1": expected a comma-separated list of host:port/);
  });
});

describe('the worker on a 3-master cluster', () => {
  it('sweeps every bucket through the worker with exact totals; the queue lives in one slot', async () => {
    const { prefix, store, env, worker } = setup();
    const live = Array.from({ length: 1500 }, sid);
    await Promise.all(live.map((id, i) => store.set(id, { i })));
    await plantExpired(client, prefix, 1000);
    const w = worker();
    await w.ready;
    const out = await runCli(['cleanup', '--wait', '--json'], env, 120_000);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ buckets: 65536, scanned: 2500, deleted: 1000, shards: 4 });
    expect(await store.length()).toBe(1500);
    expect(out.stdout + out.stderr + JSON.stringify(w.logs)).not.toContain(password);
    // every BullMQ key of the queue hashes to the {redisession} slot, so flows stay on one node
    const slot = calculateSlot('{redisession}');
    const owner = await cluster.ownerOf(slot);
    expect(Number(await owner.admin.cluster('COUNTKEYSINSLOT', slot))).toBeGreaterThan(0);
    const stats = await runCli(['stats', '--json'], env);
    expect(stats.code, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ exact: true, sessions: 1500, expiredNotSwept: 0 });
    // the doctor checks every master, and samples the store through the cluster
    const doctor = await runCli(['doctor', '--json'], env);
    expect(doctor.code, doctor.stdout).toBe(0);
    const { findings } = JSON.parse(doctor.stdout) as { findings: Array<{ check: string; message: string }> };
    expect(findings.filter((f) => /^redis\[127\.0\.0\.1:\d+\]\.version$/.test(f.check))).toHaveLength(3);
    expect(findings.find((f) => f.check === 'store.sessions')?.message).toMatch(/about 1500 sessions/);
    expect(doctor.stdout).not.toContain(password);
  }, 120_000);

  it('cleanup --wait returns every time: many quick calls back to back', async () => {
    // The worker takes and finishes a small sweep within milliseconds: a waiting CLI must notice
    // that by itself even when its event reader starts listening after the 'completed' event.
    const calls = Number(process.env.RS_CLUSTER_WAIT_CALLS ?? 40);
    const { env, worker } = setup({ SESSION_BUCKETS: '16', CLEANUP_SHARDS: '1', WORKER_CONCURRENCY: '4' });
    await worker().ready;
    const results: Array<{ code: number; stderr: string; ms: number }> = [];
    const lane = async () => {
      while (results.length < calls) {
        const started = Date.now();
        results.push({ code: -1, stderr: '', ms: 0 });
        const slot = results.length - 1;
        const out = await runCli(['cleanup', '--wait', '--json'], env, 30_000);
        results[slot] = { code: out.code, stderr: out.stderr, ms: Date.now() - started };
      }
    };
    await Promise.all(Array.from({ length: 4 }, lane));
    const hung = results.filter((r) => r.code !== 0);
    console.log(
      `cluster cleanup --wait: ${calls} calls, ${hung.length} did not return; slowest ${Math.max(...results.map((r) => r.ms))} ms`,
    );
    expect(hung.map((r) => r.stderr.slice(-300))).toEqual([]);
  }, 300_000);

  it('slots resharded during a worker sweep and a web load: zero sessions lost, exact deleted total', async () => {
    const { prefix, store, env, worker } = setup({ CLEANUP_BATCH: '20', CLEANUP_SHARDS: '2' });
    const seeded = Array.from({ length: 2000 }, sid);
    await Promise.all(seeded.map((id, i) => store.set(id, { i })));
    await plantExpired(client, prefix, 1500);
    const w = worker();
    await w.ready;
    const started = Date.now();
    const sweep = runCli(['cleanup', '--wait', '--json'], env, 150_000);
    await w.waitForLog((l) => l.msg === 'shard started');
    expect(w.logs.some((l) => l.msg === 'sweep finished')).toBe(false);

    const created: string[] = [];
    const load = startLoad(
      async () => {
        if (Math.random() < 0.4) {
          const id = sid();
          await store.set(id, { created: true });
          created.push(id);
        } else {
          const id = seeded[Math.floor(Math.random() * seeded.length)] as string;
          if ((await store.get(id)) === null) throw new Error(`miss ${id}`);
        }
      },
      { pauseMs: 1, maxMs: 170_000 },
    );
    const from = cluster.nodes[2] as (typeof cluster.nodes)[number];
    const to = cluster.nodes[0] as (typeof cluster.nodes)[number];
    const ranges = (await from.admin.cluster('SLOTS')) as unknown as Array<[number, number, [string, number]]>;
    const own = ranges.find(([, , [, port]]) => port === from.server.port) as unknown as [number, number];
    const moved = await migrateSlots(
      cluster,
      from,
      to,
      Array.from({ length: 600 }, (_, i) => own[0] + i),
      1,
    );
    const sweptWhileMoving = !w.logs.some((l) => l.msg === 'sweep finished');
    const out = await sweep;
    await load.stop();
    // a sweep that did not finish says why: the CLI's message and the worker's last lines
    expect(
      out.code,
      `${out.stderr}\n${w.logs
        .slice(-30)
        .map((l) => JSON.stringify(l))
        .join('\n')}`,
    ).toBe(0);
    const summary = JSON.parse(out.stdout);
    console.log(
      `cluster worker reshard: 600 slots (${moved.keysMoved} keys) moved ${sweptWhileMoving ? 'while' : 'partly while'} ` +
        `the sweep ran; ${created.length} sessions created by the load; sweep ${JSON.stringify(summary)}; ` +
        `errors ${load.failures}; ${Date.now() - started} ms`,
    );
    expect(moved.keysMoved).toBeGreaterThan(0);
    expect(summary).toMatchObject({ buckets: 65536, deleted: 1500 });
    expect(load.errors).toEqual([]);
    for (const [i, id] of seeded.entries()) expect(await store.get(id)).toEqual({ i });
    for (const id of created) expect(await store.get(id)).toEqual({ created: true });
    expect(await store.length()).toBe(2000 + created.length);
  }, 180_000);
});
