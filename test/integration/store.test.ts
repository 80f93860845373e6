import { randomBytes } from 'node:crypto';
import { createSessionStore, type SessionStore } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { bucketKey, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { dropPrefix, keysUnder, rawClient, redisUrl, sleep, testPrefix } from '../helpers/redis.js';
import { session, storeConformance } from '../helpers/store-conformance.js';

const sid = () => randomBytes(24).toString('base64url');
const raw = rawClient();
const stores: Array<{ store: SessionStore; prefix: string }> = [];

afterAll(async () => {
  for (const { store, prefix } of stores) {
    await dropPrefix(raw, prefix);
    await store.close();
  }
});

storeConformance('one server', redisUrl, () => [raw]);

describe('hash mode layout', () => {
  const prefix = testPrefix('layout');
  const store = createSessionStore({ redis: redisUrl(), prefix });
  stores.push({ store, prefix });

  it('puts a session into bucket prefix+2 bytes as field key, with the expiry in the value', async () => {
    const id = sid();
    const before = Date.now();
    await store.set(id, session({}, 30_000));
    const key = defaultKeyGenerator(id);
    const bucket = bucketKey(Buffer.from(prefix), defaultBucketOf(key, 65536), 2);
    const value = await raw.hgetBuffer(bucket, key);
    expect(value).not.toBeNull();
    const expiresAt = decodeEnvelope(value as Buffer).expiresAt as number;
    expect(expiresAt).toBeGreaterThanOrEqual(before + 29_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('keeps the bucket TTL at least as long as its longest-lived session', async () => {
    const prefix2 = testPrefix('bucket-ttl');
    const one = createSessionStore({ redis: redisUrl(), prefix: prefix2, buckets: 1 });
    stores.push({ store: one, prefix: prefix2 });
    const bucket = bucketKey(Buffer.from(prefix2), 0, 1);
    await one.set(sid(), session({}, 60_000));
    const first = await raw.pttl(bucket);
    expect(first).toBeGreaterThan(55_000);
    await one.set(sid(), session({}, 10_000)); // shorter: must not shrink the bucket's TTL
    expect(await raw.pttl(bucket)).toBeGreaterThan(55_000);
    await one.set(sid(), session({}, 120_000)); // longer: extends it
    expect(await raw.pttl(bucket)).toBeGreaterThan(115_000);
  });

  it('in string mode writes one key with a PX TTL and no expiry bytes', async () => {
    const p = testPrefix('str');
    const s = createSessionStore({ redis: redisUrl(), prefix: p, mode: 'string' });
    stores.push({ store: s, prefix: p });
    const id = sid();
    await s.set(id, session({}, 20_000));
    const key = Buffer.concat([Buffer.from(p), defaultKeyGenerator(id)]);
    const ttl = await raw.pttl(key);
    expect(ttl).toBeGreaterThan(18_000);
    expect(ttl).toBeLessThanOrEqual(20_000);
    expect(decodeEnvelope((await raw.getBuffer(key)) as Buffer).expiresAt).toBeNull();
  });
});

describe('hashKeyGenerator returning bucket names (the seed returned a Redis key)', () => {
  it('stores, counts, sweeps and clears sessions in named buckets', async () => {
    const prefix = testPrefix('named');
    const store = createSessionStore({
      redis: redisUrl(),
      prefix,
      inlineSweep: 0,
      hashKeyGenerator: (key) => key.subarray(1, 2), // the first id byte: up to 256 named buckets
    });
    stores.push({ store, prefix });
    const ids = Array.from({ length: 30 }, sid);
    for (const id of ids) await store.set(id, { id });
    await store.set(sid(), { short: true }, { ttlMs: 30 });
    for (const id of ids) expect(await store.get(id)).toEqual({ id });
    await sleep(80);
    expect(await store.length()).toBe(30);
    const swept = await store.sweep({ graceMs: 0 }); // finds named buckets with SCAN
    expect(swept.deleted).toBeLessThanOrEqual(1); // 0 when the bucket already expired with it
    expect(swept.scanned).toBeGreaterThanOrEqual(30);
    await store.clear();
    expect(await keysUnder(raw, prefix)).toHaveLength(0);
  });

  it('refuses what it cannot use as a bucket, per id, with a clear message', async () => {
    const prefix = testPrefix('badbucket');
    const store = createSessionStore({ redis: redisUrl(), prefix, hashKeyGenerator: () => 70_000, buckets: 16 });
    stores.push({ store, prefix });
    await expect(store.set(sid(), {})).rejects.toThrow(/hashKeyGenerator returned 70000, not an integer in \[0, 16\)/);
  });
});

describe('types a user writes', () => {
  it('lets session fields be read without casts', async () => {
    const prefix = testPrefix('types');
    const store = createSessionStore({ redis: redisUrl(), prefix });
    stores.push({ store, prefix });
    const id = sid();
    await store.set(id, { user: 'ann', views: 1, cookie: { expires: new Date(Date.now() + 60_000) } });
    const s = await store.get(id);
    const user: string = s?.user;
    const views: number = s?.views + 1;
    expect([user, views, typeof s?.cookie.expires]).toEqual(['ann', 2, 'string']);
  });
});

describe('idSecret: keyed hashes of ids instead of ids (Rack, CVE-2019-16782)', () => {
  it.each(['hash', 'string'] as const)('%s mode: works as usual, but Redis never holds the id', async (mode) => {
    const prefix = testPrefix(`hashed-${mode}`);
    const secret = randomBytes(32);
    const store = createSessionStore({ redis: redisUrl(), prefix, mode, idSecret: secret });
    stores.push({ store, prefix });
    const id = sid();
    await store.set(id, { user: 'dora' });
    expect(await store.get(id)).toEqual({ user: 'dora' });
    expect(await store.length()).toBe(1);
    const keys = await keysUnder(raw, prefix);
    const fields = mode === 'hash' ? (await Promise.all(keys.map((k) => raw.hkeysBuffer(k)))).flat() : [];
    const everything = Buffer.concat([...keys, ...fields]).toString('latin1');
    expect(everything).not.toContain(Buffer.from(id, 'base64url').toString('latin1'));
    expect(everything).not.toContain(id);
    // another secret is refused outright (the manifest records the secret's fingerprint): with it
    // every session would be a miss
    const other = createSessionStore({ redis: redisUrl(), prefix, mode, idSecret: randomBytes(32) });
    stores.push({ store: other, prefix });
    await expect(other.get(id)).rejects.toThrow(/idSecret fingerprint \w+ here, fingerprint \w+ in the manifest/);
    await store.clear();
    expect(await keysUnder(raw, prefix)).toHaveLength(0);
  });

  it('refuses a short secret (without echoing it) and a keyGenerator alongside', () => {
    expect(() => createSessionStore({ idSecret: 'short-secret' })).toThrow(/"idSecret".*at least 16 bytes/);
    expect(() => createSessionStore({ idSecret: 'short-secret' })).not.toThrow(/short-secret/);
    expect(() => createSessionStore({ idSecret: 'x'.repeat(32), keyGenerator: (s) => s })).toThrow(
      /exclude each other/,
    );
  });
});

describe('maxSize', () => {
  it('refuses a session bigger than maxSize and keeps the stored one', async () => {
    const prefix = testPrefix('maxsize');
    const store = createSessionStore({ redis: redisUrl(), prefix, maxSize: 1000, compression: 'none' });
    stores.push({ store, prefix });
    const id = sid();
    await store.set(id, { cart: ['a'] });
    await expect(store.set(id, { cart: 'x'.repeat(2000) })).rejects.toThrow(/over maxSize \(1000\); not stored/);
    expect(await store.get(id)).toEqual({ cart: ['a'] });
  });
});
