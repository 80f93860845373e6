import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { closeRedisConnections, configureRedis, createSessionStore, getRedis, type SessionStore } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { hashStats } from '../../src/inspect/stats.js';
import { bucketKey, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { coalesceWrites, writesCoalesced } from '../../src/redis/coalesce.js';
import { createClusterClient } from '../../src/redis/connections.js';
import { pipelinePerKey } from '../../src/redis/pipeline.js';
import { type ScanPosition, scanPrefixPages } from '../../src/redis/scan.js';
import { ConfigError } from '../../src/store/errors.js';
import { startLoad } from '../helpers/load.js';
import { manifestSurvivesWalks, movedPrefix } from '../helpers/manifest-walks.js';
import { dropPrefix, testPrefix } from '../helpers/redis.js';
import { migrateSlots, startCluster } from '../helpers/redis-cluster.js';
import { plantExpired, sid } from '../helpers/sessions.js';
import { storeConformance } from '../helpers/store-conformance.js';

// A real 3-master Redis Cluster for this file only (started before the tests are collected).
const cluster = await startCluster(3);
const admins = () => cluster.nodes.map((n) => n.admin);
const opened: Array<{ store: SessionStore; prefix: string }> = [];
const clients: Cluster[] = [];

afterAll(async () => {
  for (const { store, prefix } of opened) {
    for (const node of admins()) await dropPrefix(node, prefix);
    await store.close();
  }
  for (const c of clients) c.disconnect();
  await closeRedisConnections();
  await cluster.destroy();
});

function clusterClient(): Cluster {
  const c = new Cluster(cluster.addresses.map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })));
  clients.push(c);
  return c;
}

function makeStore(options: Parameters<typeof createSessionStore>[0] = {}) {
  const prefix = testPrefix('cluster');
  const store = createSessionStore({ redis: { cluster: cluster.addresses }, prefix, inlineSweep: 0, ...options });
  opened.push({ store, prefix });
  return { store, prefix };
}

storeConformance('3-master cluster', () => ({ cluster: cluster.addresses }), admins);

describe('bucket keys on a 3-master cluster', () => {
  it('spread over every master: none holds more than 40% of the 65536 buckets', async () => {
    const owners = await cluster.slotOwners();
    for (const prefix of ['rs:', 'sess:app1:']) {
      const perNode = new Map<string, number>();
      for (let i = 0; i < 65536; i++) {
        const owner = owners[calculateSlot(bucketKey(Buffer.from(prefix), i, 2))] as string;
        perNode.set(owner, (perNode.get(owner) ?? 0) + 1);
      }
      const shares = [...perNode.values()].map((n) => `${((100 * n) / 65536).toFixed(1)}%`);
      console.log(`bucket spread over 3 masters, prefix ${prefix}: ${shares.join(' / ')}`);
      expect(perNode.size).toBe(3);
      for (const count of perNode.values()) expect(count / 65536).toBeLessThan(0.4);
    }
    // the slot function we group pipelines by agrees with the server's
    const admin = cluster.nodes[0]?.admin;
    for (let i = 0; i < 65536; i += 331) {
      const key = bucketKey(Buffer.from('rs:'), i, 2);
      expect(await admin?.call('CLUSTER', 'KEYSLOT', key)).toBe(calculateSlot(key));
    }
  }, 120_000);
});

describe('the library on a cluster', () => {
  it('refuses a cluster without usable nodes, naming the setting', () => {
    expect(() => createSessionStore({ redis: { cluster: [] } })).toThrow(
      /option "redis": got a Redis Cluster whose "cluster" must be a non-empty array/,
    );
    expect(() => configureRedis({ c: { cluster: ['no-port'] } })).toThrow(ConfigError);
    expect(() => configureRedis({ c: { cluster: ['no-port'] } })).toThrow(
      /connection "c": got a Redis Cluster whose "cluster" must be/,
    );
  });

  it('a named cluster connection (configureRedis) serves store, length, sweep and stats across every master', async () => {
    configureRedis({ sessions: { cluster: cluster.addresses } });
    const prefix = testPrefix('named');
    const store = createSessionStore({ redis: 'sessions', prefix, inlineSweep: 0 });
    opened.push({ store, prefix });
    expect(getRedis('sessions').isCluster).toBe(true);
    const ids = Array.from({ length: 300 }, sid);
    await Promise.all(ids.map((id, i) => store.set(id, { i })));
    await plantExpired(getRedis('sessions') as Cluster, prefix, 120);
    // every master holds some of them
    for (const node of admins()) expect(await node.dbsize()).toBeGreaterThan(0);
    expect(await store.length()).toBe(300);
    const stats = await hashStats(
      { client: getRedis('sessions'), prefix: Buffer.from(prefix), buckets: 65536 },
      {
        sample: 100,
        exact: true,
      },
    );
    expect(stats).toMatchObject({ exact: true, sessions: 300, expiredNotSwept: 120 });
    const swept = await store.sweep({ graceMs: 0 });
    expect(swept).toMatchObject({ buckets: 65536, deleted: 120, completed: true });
    expect(swept.scanned).toBe(420);
    for (const [i, id] of ids.entries()) expect(await store.get(id)).toEqual({ i });
    await store.clear();
    expect(await store.length()).toBe(0);
  }, 120_000);

  it.each(['hash', 'string'] as const)(
    "%s mode: the store's manifest is a key like any other; no walk counts, changes or deletes it",
    async (mode) => {
      const prefix = testPrefix(`walks-${mode}`);
      opened.push({ store: createSessionStore({ redis: { cluster: cluster.addresses }, prefix }), prefix });
      opened.push({
        store: createSessionStore({ redis: { cluster: cluster.addresses }, prefix: movedPrefix(prefix) }),
        prefix: movedPrefix(prefix),
      });
      const client = clusterClient();
      // on a cluster the bulk move is refused (one script over two keys): the walk skips it
      await manifestSurvivesWalks({ cluster: cluster.addresses }, client, prefix, {
        mode,
        customKeys: mode === 'string',
      });
    },
    60_000,
  );

  it('a Cluster client passed in is used as is and left open', async () => {
    const client = clusterClient();
    const prefix = testPrefix('own');
    const store = createSessionStore({ redis: client, prefix });
    opened.push({ store, prefix });
    const id = sid();
    await store.set(id, { ok: true });
    await store.close();
    expect(await client.ping()).toBe('PONG');
    expect(await createSessionStore({ redis: client, prefix }).get(id)).toEqual({ ok: true });
  });

  it('write coalescing reaches every node, also the ones discovered after connecting', async () => {
    // one startup node: the other two are found in the slot map, and join the pool later
    const made = createClusterClient({ cluster: [cluster.addresses[0] as string] });
    const mine = coalesceWrites(clusterClient());
    for (const c of [made, mine]) {
      await c.ping();
      expect(writesCoalesced(c)).toBe(true);
      const nodes = c.nodes('master');
      expect(nodes).toHaveLength(3);
      for (const n of nodes) expect(writesCoalesced(n)).toBe(true);
      await Promise.all(nodes.map((n) => n.ping()));
      const writes = new Map(nodes.map((n) => [n, 0]));
      for (const n of nodes) {
        const socket = n.stream as unknown as { _write: () => void; _writev: () => void };
        for (const name of ['_write', '_writev'] as const) {
          const original = socket[name];
          socket[name] = function (this: unknown, ...args: []) {
            writes.set(n, (writes.get(n) ?? 0) + 1);
            return original.apply(this, args);
          };
        }
      }
      const prefix = testPrefix('coalesce');
      const keys = Array.from({ length: 60 }, (_, i) => `${prefix}${i}`);
      expect(await Promise.all(keys.map((k, i) => c.set(k, i)))).toEqual(Array(60).fill('OK'));
      expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((_, i) => String(i)));
      // keys on every node; each node got its share of each tick in one write
      expect([...writes.values()]).toEqual([2, 2, 2]);
      await Promise.all(keys.map((k) => c.del(k)));
    }
    made.disconnect();
  });

  it('a prefix scan resumes on the node it stopped at (by address, not list position), or starts over', async () => {
    const { store, prefix } = makeStore({ buckets: 256 });
    const ids = Array.from({ length: 300 }, sid);
    for (const id of ids) await store.set(id, { id });
    const all = async (client: Cluster, from?: ScanPosition) => {
      const seen = new Set<string>();
      for await (const page of scanPrefixPages(client, Buffer.from(prefix), 'hash', 10, from))
        for (const k of page.keys) seen.add(k.toString('hex'));
      return seen;
    };
    const everything = await all(clusterClient());
    expect(everything.size).toBeGreaterThan(100); // about 170 of the 256 buckets, on all three masters
    // stop after the first page of one client, resume with another client (its own node list)
    const first = await scanPrefixPages(clusterClient(), Buffer.from(prefix), 'hash', 10).next();
    const page = first.value as { keys: Buffer[]; next: ScanPosition };
    expect(page.next.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const resumed = await all(clusterClient(), page.next);
    for (const k of page.keys) resumed.add(k.toString('hex'));
    expect(resumed).toEqual(everything);
    // a node that is no longer a master: the walk starts over rather than skipping anything
    expect(await all(clusterClient(), { node: 1, cursor: '7', address: '127.0.0.1:1' })).toEqual(everything);
  });

  it('a node that lost its scripts (NOSCRIPT: SCRIPT FLUSH, a restart) gets them again', async () => {
    const { store, prefix } = makeStore();
    const ids = Array.from({ length: 200 }, sid);
    await Promise.all(ids.map((id, i) => store.set(id, { i })));
    await plantExpired(clusterClient(), prefix, 50);
    for (const node of admins()) await node.script('FLUSH');
    expect(await store.sweep({ graceMs: 0 })).toMatchObject({ deleted: 50, completed: true });
    for (const node of admins()) await node.script('FLUSH');
    await Promise.all(ids.map((id, i) => store.set(id, { i, again: true })));
    for (const [i, id] of ids.entries()) expect(await store.get(id)).toEqual({ i, again: true });
  });

  it('per-node pipelines answer in key order, also on a client that has no slot map yet', async () => {
    const writer = clusterClient();
    const keys = Array.from({ length: 300 }, (_, i) => Buffer.from(`${testPrefix('pipe')}${i}`));
    await Promise.all(keys.map((k, i) => writer.set(k, String(i))));
    const fresh = new Cluster(
      cluster.addresses.map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })),
      {
        lazyConnect: true,
      },
    );
    clients.push(fresh);
    for (const client of [fresh, writer]) {
      const replies = await pipelinePerKey(client, keys, (pipe, k) => {
        pipe.get(k);
        pipe.strlen(k);
      });
      expect(replies.map((r) => r[0]?.[1])).toEqual(keys.map((_, i) => String(i)));
      expect(replies.map((r) => r[1]?.[1])).toEqual(keys.map((_, i) => String(i).length));
    }
    await Promise.all(keys.map((k) => writer.unlink(k)));
  });

  it('a slot caught half-migrated (ASK) loses nothing: reads, writes, pipelined sweeps, length', async () => {
    const { store, prefix } = makeStore();
    const ids = Array.from({ length: 2000 }, sid);
    await Promise.all(ids.map((id, i) => store.set(id, { i })));
    await plantExpired(clusterClient(), prefix, 400);
    // the slot holding the most of our buckets, half of its keys moved to another master
    // (counted in distinct bucket keys: two sessions of one bucket are one key to migrate)
    const bucketKeyOf = (id: string) =>
      bucketKey(Buffer.from(prefix), defaultBucketOf(defaultKeyGenerator(id), 65536), 2);
    const bySlot = new Map<number, Set<string>>();
    for (const id of ids) {
      const key = bucketKeyOf(id);
      const slot = calculateSlot(key);
      bySlot.set(slot, (bySlot.get(slot) ?? new Set()).add(key.toString('hex')));
    }
    const slot = [...bySlot].sort((a, b) => b[1].size - a[1].size)[0]?.[0] as number;
    const from = await cluster.ownerOf(slot);
    const to = cluster.nodes.find((n) => n !== from) as (typeof cluster.nodes)[number];
    await to.admin.cluster('SETSLOT', slot, 'IMPORTING', from.id);
    await from.admin.cluster('SETSLOT', slot, 'MIGRATING', to.id);
    const inSlot = (await from.admin.callBuffer('CLUSTER', 'GETKEYSINSLOT', String(slot), '1000')) as Buffer[];
    expect(inSlot.length).toBeGreaterThan(1);
    const half = inSlot.slice(0, Math.ceil(inSlot.length / 2));
    await from.admin.callBuffer('MIGRATE', '127.0.0.1', String(to.server.port), '', '0', '5000', 'KEYS', ...half);

    // mid-migration: every read finds its session, new writes land, a sweep pipelines across it
    for (const [i, id] of ids.entries()) expect(await store.get(id)).toEqual({ i });
    const more = Array.from({ length: 200 }, sid);
    await Promise.all(more.map((id) => store.set(id, { more: true })));
    expect(await store.length()).toBe(2200);
    const swept = await store.sweep({ graceMs: 0, batch: 500 });
    expect(swept).toMatchObject({ deleted: 400, completed: true });

    await migrateSlots(cluster, from, to, [slot]); // moves the rest, then hands the slot over
    await cluster.waitStable();
    for (const [i, id] of ids.entries()) expect(await store.get(id)).toEqual({ i });
    for (const id of more) expect(await store.get(id)).toEqual({ more: true });
    expect(await store.length()).toBe(2200);
  }, 120_000);

  it('resharding under a web load and a sweep: zero sessions lost, exact sweep totals', async () => {
    const { store, prefix } = makeStore();
    const seeded = Array.from({ length: 1500 }, sid);
    await Promise.all(seeded.map((id, i) => store.set(id, { i, v: 0 })));
    await plantExpired(clusterClient(), prefix, 500);
    const created: string[] = []; // sessions the load created and Redis acknowledged

    const from = cluster.nodes[0] as (typeof cluster.nodes)[number];
    const to = cluster.nodes[1] as (typeof cluster.nodes)[number];
    const slots = (
      (await from.admin.cluster('SLOTS')) as unknown as Array<[number, number, [string, number, string]]>
    ).find(([, , [, port]]) => port === from.server.port) as [number, number, unknown];
    const moving = Array.from({ length: 400 }, (_, i) => slots[0] + i);

    let writes = 0;
    let reads = 0;
    const load = startLoad(
      async () => {
        const r = Math.random();
        if (r < 0.3) {
          const id = sid();
          await store.set(id, { created: true });
          created.push(id);
          writes++;
        } else if (r < 0.5) {
          const i = Math.floor(Math.random() * seeded.length);
          await store.set(seeded[i] as string, { i, v: writes });
          writes++;
        } else {
          const id = seeded[Math.floor(Math.random() * seeded.length)] as string;
          if ((await store.get(id)) === null) throw new Error(`miss ${id}`);
          reads++;
        }
      },
      { loops: 4 },
    );
    const [moved, swept] = await Promise.all([
      migrateSlots(cluster, from, to, moving, 2),
      store.sweep({ graceMs: 0, batch: 200 }),
    ]);
    await load.stop();
    await cluster.waitStable();
    console.log(
      `cluster reshard: ${moving.length} slots, ${created.length} sessions created, ${moved.keysMoved} keys moved during ${writes} writes and ${reads} reads; ` +
        `sweep deleted ${swept.deleted}; errors ${load.failures}`,
    );
    expect(moved.keysMoved).toBeGreaterThan(0);
    expect(load.errors).toEqual([]);
    expect(swept).toMatchObject({ deleted: 500, completed: true });
    for (const [i, id] of seeded.entries()) expect(await store.get(id)).toMatchObject({ i });
    for (const id of created) expect(await store.get(id)).toEqual({ created: true });
    expect(await store.length()).toBe(1500 + created.length);
  }, 120_000);
});

describe('log out everywhere and the legacy fallback on a 3-master cluster', () => {
  it('user index: index entry first, then the session (different slots); destroyUser, sessionsOf, clear', async () => {
    const { store } = makeStore({ userId: (s) => s.user as string | undefined });
    const mine = Array.from({ length: 6 }, sid);
    const theirs = Array.from({ length: 3 }, sid);
    for (const id of mine) await store.set(id, { user: 'ann' });
    for (const id of theirs) await store.set(id, { user: 'ben' });
    expect((await store.sessionsOf('ann')).map((s) => s.id).sort()).toEqual([...mine].sort());
    const loaded = await store.get(mine[0] as string);
    expect(await store.destroyUser('ann')).toBe(6);
    await store.set(mine[0] as string, loaded as object); // a request still in flight saves at its end
    for (const id of mine) expect(await store.get(id)).toBeNull();
    for (const id of theirs) expect(await store.get(id)).toEqual({ user: 'ben' });
    await store.clear();
    expect(await store.sessionsOf('ben')).toEqual([]);
  });

  it('the legacy fallback refuses a cluster with a clear error (old and new keys can sit on different nodes)', async () => {
    const { store } = makeStore({ legacy: { layout: 'connect-redis', prefix: testPrefix('cluster-old') } });
    await expect(store.get(sid())).rejects.toThrow(/needs a single Redis node/);
  });
});
