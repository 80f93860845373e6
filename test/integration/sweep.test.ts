import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSessionStore, runSweep, type SessionStore, type SweepProgress } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../src/codec/envelope.js';
import { hashStats } from '../../src/inspect/stats.js';
import { bucketKey, bucketWidth, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { dropPrefix, keysUnder, rawClient, redisUrl, sleep, testPrefix } from '../helpers/redis.js';
import { startRedisServer } from '../helpers/redis-server.js';

const raw = rawClient();
const sid = () => randomBytes(24).toString('base64url');
const cleanup: Array<{ store: SessionStore; prefix: string }> = [];
afterAll(async () => {
  for (const { store, prefix } of cleanup) {
    await dropPrefix(raw, prefix);
    await store.close();
  }
});

function makeStore(options: Parameters<typeof createSessionStore>[0] = {}) {
  const prefix = testPrefix('sweep');
  const store = createSessionStore({ redis: redisUrl(), prefix, inlineSweep: 0, ...options });
  cleanup.push({ store, prefix });
  return { store, prefix };
}

/**
 * `live` sessions written through the store (a minute to live) and `expired` ones planted where the
 * store would put them, expired 2 s ago. (Written through the store with a short TTL, an expired
 * session's whole bucket would vanish with its TTL before the sweep ran.)
 */
async function populate(
  store: SessionStore,
  prefix: string,
  buckets: number,
  expired: number,
  live: number,
  client = raw,
) {
  const liveIds: string[] = [];
  for (let i = 0; i < live; i++) {
    const id = sid();
    liveIds.push(id);
    await store.set(id, { i }, { ttlMs: 60_000 });
  }
  const pipe = client.pipeline();
  const value = encodeEnvelope(
    { serializer: 0, compressor: 0, expiresAt: Date.now() - 2000 },
    Buffer.from('{"old":1}'),
  );
  for (let i = 0; i < expired; i++) {
    const key = defaultKeyGenerator(sid());
    pipe.hset(bucketKey(Buffer.from(prefix), defaultBucketOf(key, buckets), bucketWidth(buckets)), key, value);
  }
  await pipe.exec();
  return { liveIds };
}

async function fieldCount(prefix: string, client = raw): Promise<number> {
  let n = 0;
  for (const k of await keysUnder(client, prefix)) if ((await client.type(k)) === 'hash') n += await client.hlen(k);
  return n;
}

describe('store.sweep', () => {
  it('deletes exactly the expired sessions', async () => {
    const { store, prefix } = makeStore({ buckets: 64 });
    const { liveIds } = await populate(store, prefix, 64, 150, 100);
    expect(await fieldCount(prefix)).toBe(250);
    const result = await store.sweep({ graceMs: 0, batch: 16 });
    expect(result).toMatchObject({ buckets: 64, scanned: 250, deleted: 150, completed: true });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(await fieldCount(prefix)).toBe(100);
    for (const id of liveIds) expect(await store.get(id)).not.toBeNull();
  });

  it('keeps sessions inside the grace period', async () => {
    const { store, prefix } = makeStore({ buckets: 8 });
    await populate(store, prefix, 8, 20, 0); // expired 2 s ago
    expect((await store.sweep()).deleted).toBe(0); // default grace: 60 s
    expect((await store.sweep({ graceMs: 5000 })).deleted).toBe(0);
    expect(await fieldCount(prefix)).toBe(20);
  });

  it('counts but deletes nothing on a dry run', async () => {
    const { store, prefix } = makeStore({ buckets: 16 });
    await populate(store, prefix, 16, 30, 10);
    const result = await store.sweep({ graceMs: 0, dryRun: true });
    expect(result).toMatchObject({ scanned: 40, deleted: 30 });
    expect(await fieldCount(prefix)).toBe(40);
  });

  it('never touches keys outside the prefix, whatever they hold', async () => {
    const { store, prefix } = makeStore({ buckets: 4 });
    await populate(store, prefix, 4, 10, 0);
    // another app's hashes that look exactly like expired buckets, just under another prefix
    const old = encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: 1000 }, Buffer.from('{}'));
    const foreignPrefix = testPrefix('foreign');
    cleanup.push({ store, prefix: foreignPrefix });
    const foreign = bucketKey(Buffer.from(foreignPrefix), 1, 1);
    await raw.hset(foreign, 'f1', old, 'f2', old);
    await raw.set(`${prefix}config`, old);
    for (const strategy of ['full', 'sample', 'existing'] as const) {
      await store.sweep({ graceMs: 0, strategy, sample: 4 });
    }
    expect(await raw.hlen(foreign)).toBe(2);
    expect(await raw.exists(`${prefix}config`)).toBe(1);
    expect(await fieldCount(prefix)).toBe(0);
  });

  it('skips something that is not a hash at a bucket name, instead of failing', async () => {
    const { store, prefix } = makeStore({ buckets: 4 });
    await populate(store, prefix, 4, 8, 0);
    await raw.set(bucketKey(Buffer.from(prefix), 2, 1), 'a string where bucket 2 would be');
    const result = await store.sweep({ graceMs: 0 });
    expect(result.buckets).toBe(4);
    expect(await raw.get(bucketKey(Buffer.from(prefix), 2, 1))).toBe('a string where bucket 2 would be');
  });

  it('walks a big hashtable bucket in bounded slices', async () => {
    const { store, prefix } = makeStore({ buckets: 1 });
    const padding = 'x'.repeat(100); // > hash-max-listpack-value: the bucket becomes a hashtable
    const pipe = raw.pipeline();
    const bucket = bucketKey(Buffer.from(prefix), 0, 1);
    const now = Date.now();
    for (let i = 0; i < 6000; i++) {
      const expiresAt = i % 2 === 0 ? now - 120_000 : now + 600_000;
      pipe.hset(
        bucket,
        randomBytes(25),
        encodeEnvelope({ serializer: 0, compressor: 0, expiresAt }, Buffer.from(`{"p":"${padding}"}`)),
      );
    }
    await pipe.exec();
    expect(await raw.object('ENCODING', bucket)).toBe('hashtable');
    const before = await scriptCalls();
    const result = await store.sweep({ graceMs: 0 });
    const calls = (await scriptCalls()) - before;
    expect(result).toMatchObject({ buckets: 1, deleted: 3000 });
    expect(result.scanned).toBeGreaterThanOrEqual(6000);
    expect(await raw.hlen(bucket)).toBe(3000);
    // 6000 fields at HSCAN COUNT 100: dozens of script calls, not one call doing everything
    expect(calls).toBeGreaterThanOrEqual(8);
  });

  it('sizes script calls to the call budget: a smaller budget, more and smaller calls; the same result', async () => {
    // a private server: the call count must not include other test files' scripts
    const server = await startRedisServer();
    const client = new Redis(server.url);
    const calls: Record<number, number> = {};
    for (const callBudgetUs of [10, 100_000]) {
      const prefix = testPrefix('budget');
      const store = createSessionStore({ redis: client, prefix, buckets: 64, inlineSweep: 0 });
      // ~12 fields a bucket
      const { liveIds } = await populate(store, prefix, 64, 600, 170, client);
      const before = await scriptCalls(client);
      const result = await store.sweep({ graceMs: 0, batch: 64, callBudgetUs });
      calls[callBudgetUs] = (await scriptCalls(client)) - before;
      expect(result).toMatchObject({ buckets: 64, scanned: 770, deleted: 600, completed: true });
      expect(await fieldCount(prefix, client)).toBe(170);
      for (const id of liveIds.slice(0, 50)) expect(await store.get(id)).not.toBeNull();
    }
    // 10 µs: a few fields, so about a bucket a call; 100 ms: a first modest call, then the rest at once
    expect(calls[10]).toBeGreaterThan(64 / 4);
    expect(calls[100_000]).toBeLessThanOrEqual(4);
    client.disconnect();
    await server.stop();
  });

  it('refuses a call budget out of range, naming the option', async () => {
    const { store } = makeStore();
    await expect(store.sweep({ callBudgetUs: 5 })).rejects.toThrow(/callBudgetUs.*from 10 to 100000/);
  });

  it('sample visits N random buckets; existing visits only buckets that exist', async () => {
    const { store, prefix } = makeStore({ buckets: 1024 });
    await populate(store, prefix, 1024, 20, 0);
    const sample = await store.sweep({ graceMs: 0, strategy: 'sample', sample: 50, dryRun: true });
    expect(sample.buckets).toBe(50);
    const existing = await store.sweep({ graceMs: 0, strategy: 'existing' });
    expect(existing.buckets).toBeGreaterThan(0);
    expect(existing.buckets).toBeLessThanOrEqual(20);
    expect(existing.deleted).toBe(20);
  });

  it('reports progress after every batch and resumes from a checkpoint', async () => {
    const { store, prefix } = makeStore({ buckets: 100 });
    await populate(store, prefix, 100, 60, 20);
    const seen: SweepProgress[] = [];
    const abort = new AbortController();
    const first = await store.sweep({
      graceMs: 0,
      batch: 10,
      signal: abort.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.bucketsDone >= 30) abort.abort();
      },
    });
    expect(first.completed).toBe(false);
    expect(seen.map((p) => p.bucketsDone)).toEqual([10, 20, 30]);
    expect(seen.every((p) => p.bucketsTotal === 100)).toBe(true);
    const rest = await store.sweep({ graceMs: 0, batch: 10, checkpoint: first.checkpoint });
    expect(rest.completed).toBe(true);
    expect(rest.buckets).toBe(100); // counts carry over from the checkpoint
    expect(rest.deleted).toBe(60);
    expect(await fieldCount(prefix)).toBe(20);
  });

  it('refuses to resume a sample sweep without the buckets it sampled', async () => {
    const { store } = makeStore({ buckets: 64 });
    const checkpoint = { position: 5, bucketsDone: 5, scanned: 0, deleted: 0 };
    await expect(store.sweep({ strategy: 'sample', checkpoint })).rejects.toThrow(/needs the `indexes`/);
    expect((await store.sweep({ strategy: 'sample', checkpoint, indexes: [1, 2, 3, 4, 5, 6] })).buckets).toBe(6);
  });

  it('runs on a shard range through runSweep', async () => {
    const { store, prefix } = makeStore({ buckets: 10 });
    await populate(store, prefix, 10, 40, 0);
    const target = { client: raw, prefix: Buffer.from(prefix), buckets: 10 };
    const a = await runSweep(target, { graceMs: 0, range: { from: 0, to: 5 } });
    const b = await runSweep(target, { graceMs: 0, range: { from: 5, to: 10 } });
    expect(a.buckets + b.buckets).toBe(10);
    expect(a.deleted + b.deleted).toBe(40);
  });

  it('returns zeros in string mode, where Redis expires the keys', async () => {
    const { store } = makeStore({ mode: 'string' });
    expect(await store.sweep()).toMatchObject({ buckets: 0, scanned: 0, deleted: 0, completed: true });
  });
});

describe('in-line sweep on write', () => {
  it.each([
    { inlineSweep: 1, left: 1, what: 'removes long-expired sessions from the bucket being written' },
    { inlineSweep: 0, left: 11, what: 'is off with inlineSweep: 0' },
  ])('$what', async ({ inlineSweep, left }) => {
    const { store, prefix } = makeStore({ buckets: 1, inlineSweep });
    const bucket = bucketKey(Buffer.from(prefix), 0, 1);
    const stale = encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: Date.now() - 120_000 }, Buffer.from('{}'));
    for (let i = 0; i < 10; i++) await raw.hset(bucket, randomBytes(25), stale);
    await store.set(sid(), { fresh: true });
    expect(await raw.hlen(bucket)).toBe(left);
  });
});

describe('sweeps racing web writes', () => {
  it('never deletes a session refreshed at the edge of its expiry', async () => {
    const { store } = makeStore({ buckets: 4 });
    const ids = Array.from({ length: 40 }, sid);
    let lost = 0;
    let checked = 0;
    let writes = 0;
    let sweeps = 0;
    let deletedBySweeps = 0;
    const until = Date.now() + 3000;
    // Each session lives 200 ms and is refreshed after 0-400 ms: about half lapse and are swept,
    // the rest are rewritten while sweeps are looking at their bucket.
    const writer = async (mine: string[]) => {
      while (Date.now() < until) {
        for (const id of mine) {
          const at = Date.now();
          await store.set(id, { id, at }, { ttlMs: 200 });
          writes++;
          // a miss counts once it cannot be the TTL itself (a process stalled past 200 ms)
          const found = (await store.get(id)) !== null;
          if (Date.now() - at < 150) {
            checked++;
            if (!found) lost++;
          }
        }
        await sleep(Math.random() * 400);
      }
    };
    const sweeper = async () => {
      while (Date.now() < until) {
        deletedBySweeps += (await store.sweep({ graceMs: 0, batch: 2 })).deleted;
        sweeps++;
      }
    };
    await Promise.all([writer(ids.slice(0, 20)), writer(ids.slice(20)), sweeper(), sweeper()]);
    expect(writes).toBeGreaterThan(200);
    expect(sweeps).toBeGreaterThan(20);
    expect(deletedBySweeps).toBeGreaterThan(0); // the sweeps really were deleting meanwhile
    expect(checked).toBeGreaterThan(100); // most reads came back in time to count
    expect(lost).toBe(0);
  });
});

async function scriptCalls(client = raw): Promise<number> {
  const info = await client.info('commandstats');
  const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return calls('evalsha') + calls('eval');
}

describe('stats', () => {
  it('counts exactly while buckets are few, and extrapolates from a sample beyond that', async () => {
    const { store, prefix } = makeStore({ buckets: 256 });
    await populate(store, prefix, 256, 300, 700);
    const target = { client: raw, prefix: Buffer.from(prefix), buckets: 256 };
    const exact = await hashStats(target, { sample: 64, exact: false });
    expect(exact).toMatchObject({ exact: true, sessions: 700, expiredNotSwept: 300 });
    expect(exact.bucketsInUse).toBeGreaterThan(200);
    expect(exact.bytesPerSession).toBeGreaterThan(20);
    const sampled = await hashStats(target, { sample: 128, exact: false, exactBudget: 10 });
    expect(sampled.exact).toBe(false);
    expect(sampled.sampledBuckets).toBe(128);
    // half the buckets sampled: the estimate lands near the truth
    expect(sampled.sessions).toBeGreaterThan(500);
    expect(sampled.sessions).toBeLessThan(900);
  });
});
