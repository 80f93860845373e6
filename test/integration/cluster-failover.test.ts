import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import calculateSlot from 'cluster-key-slot';
import { createSessionStore, DurabilityError, type SessionStore } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { bucketKey, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { startLoad } from '../helpers/load.js';
import { dropPrefix, sleep, testPrefix } from '../helpers/redis.js';
import { type ClusterNodeInfo, startCluster } from '../helpers/redis-cluster.js';
import { plantExpired, sid } from '../helpers/sessions.js';

/*
 * A Redis Cluster master failover (replica promotion) under a web load and a sweep: how many
 * sessions whose set was acknowledged are gone afterwards, with and without the `durability`
 * option (WAIT for one replica). Redis replicates asynchronously: what the master acknowledged
 * and had not sent to its replica when it died is lost. First a plain SIGKILL under load, then the
 * worst case made deterministic: the replica's link cut just before the writes.
 */

const cluster = await startCluster(3, { replicas: 1 });
const all = [...cluster.nodes, ...cluster.replicas];
const opened: Array<{ store: SessionStore; prefix: string }> = [];

afterAll(async () => {
  const masters = await currentMasters();
  for (const { store, prefix } of opened) {
    for (const m of masters) await dropPrefix(m.admin, prefix).catch(() => {});
    await store.close();
  }
  await cluster.destroy();
});

const owner = (s: Record<string, unknown>) => s.user as string | undefined;
/** A script as the store loads it (with its includes). */
const luaSource = (file: string) =>
  readFileSync(new URL(`../../src/lua/${file}`, import.meta.url), 'utf8').replace(
    /^--- @include "([a-z_]+)"$/gm,
    (_, name: string) => readFileSync(new URL(`../../src/lua/includes/${name}.lua`, import.meta.url), 'utf8'),
  );
const session = (extra: Record<string, unknown> = {}) => ({
  cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString() },
  ...extra,
});

/** The nodes that are masters now, by a live node's view. */
async function currentMasters(): Promise<ClusterNodeInfo[]> {
  for (const n of all) {
    try {
      const lines = String(await n.admin.cluster('NODES'))
        .trim()
        .split('\n');
      const ids = lines
        .map((l) => l.split(' '))
        .filter((f) => /master/.test(f[2] ?? '') && !/fail/.test(f[2] ?? ''))
        .map((f) => f[0]);
      return all.filter((x) => ids.includes(x.id));
    } catch {
      // that node is down: ask another
    }
  }
  throw new Error('no live node');
}

async function replicaOf(master: ClusterNodeInfo): Promise<ClusterNodeInfo> {
  const info = await master.admin.info('replication');
  const port = Number(/slave0:ip=[^,]+,port=(\d+)/.exec(info)?.[1]);
  const found = all.find((n) => n.server.port === port);
  if (!found) throw new Error(`no replica found for ${master.server.port}`);
  return found;
}

function makeStore(label: string, durable: boolean) {
  const prefix = testPrefix(label);
  const store = createSessionStore({
    redis: { cluster: cluster.addresses },
    prefix,
    inlineSweep: 0,
    userId: owner,
    ...(durable ? { durability: { replicas: 1, timeoutMs: 500 } } : {}),
  });
  opened.push({ store, prefix });
  return { store, prefix };
}

/** Sessions acknowledged by `set` that a read no longer finds. */
async function lost(store: SessionStore, ids: string[]): Promise<number> {
  let n = 0;
  for (const id of ids) if ((await store.get(id)) === null) n++;
  return n;
}

/**
 * Waits for the failover to finish (the killed master's replica promoted, every other node agreeing)
 * and brings the killed node back, as a replica of its successor. (Restarted before the failover,
 * an empty master without persistence would take its slots back and wipe its replica.)
 */
async function recover(killed: ClusterNodeInfo, successor: ClusterNodeInfo): Promise<void> {
  for (let i = 0; !/role:master/.test(await successor.admin.info('replication')); i++) {
    if (i > 300) throw new Error('no failover within 30 s');
    await sleep(100);
  }
  await cluster.waitStable(all.filter((n) => n !== killed));
  await killed.server.restart();
  await cluster.waitStable();
  const masters = await currentMasters();
  for (const m of masters) {
    const r = await replicaOf(m);
    for (let i = 0; i < 100 && !/master_link_status:up/.test(await r.admin.info('replication')); i++) await sleep(100);
  }
}

describe('cluster master failover', () => {
  it('under a web load and a sweep: durability brings the sessions lost to 0', async () => {
    const plain = makeStore('fo-plain', false);
    const durable = makeStore('fo-durable', true);
    const acked = { plain: [] as string[], durable: [] as string[] };
    const refused = { plain: 0, durable: 0 };
    for (const s of [plain, durable])
      await Promise.all(Array.from({ length: 500 }, () => s.store.set(sid(), session())));
    const admin = await currentMasters();
    await plantExpired(plain.store.redis as never, plain.prefix, 300);
    for (const m of admin) await m.admin.call('WAIT', '1', '5000');

    const loops = (['plain', 'durable'] as const).map((which) =>
      startLoad(
        async () => {
          const id = sid();
          try {
            await (which === 'plain' ? plain : durable).store.set(id, session({ user: `u${id.length % 7}` }));
          } catch (err) {
            refused[which]++;
            throw err;
          }
          acked[which].push(id);
        },
        { loops: 2, pauseMs: 2, failPauseMs: 20, maxMs: 110_000 },
      ),
    );
    const sweep = plain.store.sweep({ graceMs: 0, batch: 50 }).catch((err: Error) => err);
    await sleep(300);
    const victim = (await currentMasters())[0] as ClusterNodeInfo;
    const successor = await replicaOf(victim);
    // scripts replicate as their effects: the replica about to take over never loaded ours
    const sha = createHash('sha1').update(luaSource('session_set.lua')).digest('hex');
    expect(await successor.admin.script('EXISTS', sha)).toEqual([0]);
    const killedAt = Date.now();
    await victim.server.stop(true); // SIGKILL: nothing flushed to the replica
    await recover(victim, successor);
    const recoveredMs = Date.now() - killedAt;
    await sleep(500); // writes go through the new master (and its new replica) for a while
    for (const l of loops) await l.stop();
    const swept = await sweep;
    const again = await plain.store.sweep({ graceMs: 0 });
    const lostPlain = await lost(plain.store, acked.plain);
    const lostDurable = await lost(durable.store, acked.durable);
    console.log(
      `[cluster-failover] SIGKILL of a master under load: recovered (replica promoted, old master back as its replica) ` +
        `in ${recoveredMs} ms; without durability ${acked.plain.length} sets acknowledged, ${lostPlain} lost, ` +
        `${refused.plain} refused; with durability ${acked.durable.length} acknowledged, ${lostDurable} lost, ` +
        `${refused.durable} refused; sweep ${swept instanceof Error ? `failed (${swept.message}), ` : `deleted ${swept.deleted}, `}` +
        `a second sweep deleted ${again.deleted}`,
    );
    expect(lostDurable).toBe(0);
    expect(acked.durable.length).toBeGreaterThan(0);
    expect((await plain.store.sweep({ graceMs: 0, dry: true })).deleted).toBe(0);

    // every script path on the promoted replica, which had none of them
    const ids = Array.from({ length: 40 }, sid);
    await Promise.all(ids.map((id) => durable.store.set(id, session({ user: 'ivy' }))));
    await Promise.all(ids.map((id) => durable.store.touch(id, session({ user: 'ivy' }))));
    expect(await durable.store.sessionsOf('ivy')).toHaveLength(40);
    await durable.store.destroy(ids[0] as string);
    expect(await durable.store.destroyUser('ivy')).toBe(39);
    await durable.store.sweep({ graceMs: 0 });
    for (const id of ids) expect(await durable.store.get(id)).toBeNull();
  }, 120_000);

  it('a replica cut off just before the writes: acknowledged writes are lost, unless durability held them back', async () => {
    const plain = makeStore('fo-cut-plain', false);
    const durable = makeStore('fo-cut-durable', true);
    const master = (await currentMasters())[0] as ClusterNodeInfo;
    const replica = await replicaOf(master);
    const slots = new Set<number>();
    for (const [a, b, [, port]] of (await master.admin.cluster('SLOTS')) as unknown as Array<
      [number, number, [string, number]]
    >) {
      if (port === master.server.port) for (let s = a; s <= b; s++) slots.add(s);
    }
    // ids whose bucket sits on that master
    const onMaster = (prefix: string, n: number) => {
      const ids: string[] = [];
      while (ids.length < n) {
        const id = sid();
        const bucket = bucketKey(Buffer.from(prefix), defaultBucketOf(defaultKeyGenerator(id), 65536), 2);
        if (slots.has(calculateSlot(bucket))) ids.push(id);
      }
      return ids;
    };
    const ids = { plain: onMaster(plain.prefix, 50), durable: onMaster(durable.prefix, 50) };
    await plain.store.set(sid(), session()); // connected
    await durable.store.set(sid(), session()).catch(() => {});

    replica.server.pause(true); // SIGSTOP: it cannot reconnect
    await master.admin.call('CLIENT', 'KILL', 'TYPE', 'replica');
    const acked = { plain: 0, durable: 0 };
    const errors: string[] = [];
    await Promise.all([
      ...ids.plain.map(async (id) => {
        await plain.store.set(id, session());
        acked.plain++;
      }),
      ...ids.durable.map(async (id) => {
        try {
          await durable.store.set(id, session());
          acked.durable++;
        } catch (err) {
          errors.push((err as Error).constructor.name);
          expect(err).toBeInstanceOf(DurabilityError);
        }
      }),
    ]);
    await master.server.stop(true);
    replica.server.pause(false);
    await recover(master, replica);
    const lostPlain = await lost(plain.store, ids.plain);
    const lostDurable = await lost(
      durable.store,
      ids.durable.slice(0, acked.durable), // only acknowledged ones count (none here)
    );
    console.log(
      `[cluster-failover] replica cut off, then the master killed: without durability ${acked.plain} of 50 sets ` +
        `acknowledged, ${lostPlain} lost; with durability ${acked.durable} acknowledged (${errors.length} refused with ` +
        `DurabilityError), ${lostDurable} lost`,
    );
    expect(acked.plain).toBe(50);
    expect(lostPlain).toBe(50);
    expect(acked.durable).toBe(0);
    expect(errors).toHaveLength(50);
  }, 120_000);
});
