import { randomBytes } from 'node:crypto';
import { createSessionStore, InvalidSessionIdError, SessionEncodeError, type SessionStore } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { bucketKey, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { dropPrefix, keysUnder, rawClient, redisUrl, sleep, testPrefix } from '../helpers/redis.js';

const sid = () => randomBytes(24).toString('base64url');
const raw = rawClient();
const stores: Array<{ store: SessionStore; prefix: string }> = [];

afterAll(async () => {
  for (const { store, prefix } of stores) {
    await dropPrefix(raw, prefix);
    await store.close();
  }
});

function session(extra: Record<string, unknown> = {}, maxAgeMs = 60_000) {
  return {
    cookie: {
      originalMaxAge: maxAgeMs,
      expires: new Date(Date.now() + maxAgeMs).toISOString(),
      httpOnly: true,
      path: '/',
    },
    user: 42,
    csrf: randomBytes(16).toString('hex'),
    ...extra,
  };
}

const bigCart = {
  cart: Array.from({ length: 40 }, (_, i) => ({ sku: `SKU-${i}`, qty: i % 3, title: 'A product title' })),
};

const matrix = [
  { mode: 'hash', compression: 'snappy', serializer: 'json' },
  { mode: 'hash', compression: 'none', serializer: 'json' },
  { mode: 'string', compression: 'snappy', serializer: 'json' },
  { mode: 'string', compression: 'none', serializer: 'json' },
  { mode: 'hash', compression: 'snappy', serializer: 'compact' },
  { mode: 'string', compression: 'none', serializer: 'compact' },
] as const;

describe.each(matrix)(
  'store in $mode mode, compression $compression, serializer $serializer',
  ({ mode, compression, serializer }) => {
    const prefix = testPrefix(mode);
    const store = createSessionStore({
      redis: redisUrl(),
      mode,
      compression,
      serializer,
      prefix,
      compressMinLength: 100,
    });
    stores.push({ store, prefix });

    it('returns null for a session never stored', async () => {
      expect(await store.get(sid())).toBeNull();
    });

    it('stores and returns small and big sessions unchanged', async () => {
      const a = sid();
      const b = sid();
      const small = session();
      const big = session(bigCart);
      await store.set(a, small);
      await store.set(b, big);
      expect(await store.get(a)).toEqual(small);
      expect(await store.get(b)).toEqual(big);
    });

    it('compresses big values only when asked to', async () => {
      const id = sid();
      await store.set(id, session(bigCart));
      const [value] = await storedValues(prefix, mode);
      expect(value).toBeDefined();
      const anyCompressed = (await storedValues(prefix, mode)).some((v) => decodeEnvelope(v).compressor !== 0);
      expect(anyCompressed).toBe(compression !== 'none');
    });

    it('overwrites on set and deletes on destroy', async () => {
      const id = sid();
      await store.set(id, session({ n: 1 }));
      await store.set(id, session({ n: 2 }));
      expect(await store.get(id)).toMatchObject({ n: 2 });
      await store.destroy(id);
      expect(await store.get(id)).toBeNull();
      await store.destroy(id); // destroying twice is fine
    });

    it('expires sessions by cookie.expires, without resurrecting them', async () => {
      const id = sid();
      await store.set(id, session({}, 300));
      expect(await store.get(id)).not.toBeNull();
      await sleep(450);
      expect(await store.get(id)).toBeNull();
      await store.touch(id, session({}, 60_000)); // touch after expiry must not bring it back
      expect(await store.get(id)).toBeNull();
    });

    it('uses the default ttl when the session has no cookie expiry', async () => {
      const short = createSessionStore({ redis: redisUrl(), mode, prefix, ttl: 0.3 });
      stores.push({ store: short, prefix });
      const id = sid();
      await short.set(id, { user: 1 });
      expect(await short.get(id)).toEqual({ user: 1 });
      await sleep(450);
      expect(await short.get(id)).toBeNull();
    });

    it('destroys instead of storing when the cookie already expired', async () => {
      const id = sid();
      await store.set(id, session());
      await store.set(id, session({}, -1000));
      expect(await store.get(id)).toBeNull();
    });

    it('honours an explicit ttlMs (koa-session maxAge)', async () => {
      const id = sid();
      await store.set(id, { user: 7 }, { ttlMs: 250 });
      expect(await store.get(id)).toEqual({ user: 7 });
      await sleep(400);
      expect(await store.get(id)).toBeNull();
    });

    it('touch extends the lifetime and keeps the stored data', async () => {
      const id = sid();
      const stored = session({ cart: ['a'] }, 400);
      await store.set(id, stored);
      await sleep(200);
      const touched = session({}, 60_000);
      await store.touch(id, touched);
      await sleep(350); // past the first expiry
      const got = await store.get(id);
      const withoutExpiry = (s: typeof stored | null) => s && { ...s, cookie: { ...s.cookie, expires: null } };
      expect(withoutExpiry(got as typeof stored)).toEqual(withoutExpiry(stored));
      // 'compact' in hash mode derives cookie.expires from the stored expiry, which touch moved
      const expected = serializer === 'compact' && mode === 'hash' ? touched.cookie.expires : stored.cookie.expires;
      expect(got?.cookie.expires).toBe(expected);
    });

    it('a touch carrying an older copy never undoes a newer write', async () => {
      const id = sid();
      const before = session({ cart: [] });
      await store.set(id, before);
      const after = { ...before, cart: ['book'] }; // another request adds to the cart
      await store.set(id, after);
      await store.touch(id, before); // the slow request ends and touches its stale copy
      expect(await store.get(id)).toEqual(after);
    });

    it('touch never shortens a longer life that a concurrent set gave', async () => {
      const id = sid();
      await store.set(id, session({ remember: true }, 60_000)); // "remember me" on another request
      await store.touch(id, session({}, 400)); // a stale touch with the short cookie
      await sleep(550);
      expect(await store.get(id)).toMatchObject({ remember: true });
    });

    it('touch never creates a session that was destroyed', async () => {
      const id = sid();
      await store.set(id, session());
      await store.destroy(id);
      await store.touch(id, session());
      expect(await store.get(id)).toBeNull();
    });

    it('counts live sessions and clears only its own prefix', async () => {
      const p = testPrefix(`${mode}-count`);
      const s = createSessionStore({ redis: redisUrl(), mode, prefix: p, ttl: 60 });
      stores.push({ store: s, prefix: p });
      const neighbour = createSessionStore({ redis: redisUrl(), mode, prefix: `${p}x` });
      stores.push({ store: neighbour, prefix: `${p}x` });
      await neighbour.set(sid(), { other: true });
      for (let i = 0; i < 25; i++) await s.set(sid(), { i });
      await s.set(sid(), { short: true }, { ttlMs: 100 });
      await sleep(200);
      expect(await s.length()).toBe(25);
      await s.clear();
      expect(await s.length()).toBe(0);
      expect(await neighbour.length()).toBe(1);
    });

    it('refuses bad ids: a miss on get, a no-op on destroy, an error on set', async () => {
      for (const bad of ['', 'x'.repeat(257), 'abc\r\nFLUSHALL', 'a\u0000b']) {
        expect(await store.get(bad)).toBeNull();
        await expect(store.destroy(bad)).resolves.toBeUndefined();
        await expect(store.set(bad, session())).rejects.toThrow(InvalidSessionIdError);
      }
    });

    it('rejects sessions that cannot be serialised and keeps the stored one', async () => {
      const id = sid();
      const good = session({ v: 1 });
      await store.set(id, good);
      await expect(store.set(id, { n: 10n })).rejects.toThrow(SessionEncodeError);
      const cyclic: Record<string, unknown> = { cookie: {} };
      cyclic.self = cyclic;
      await expect(store.set(id, cyclic)).rejects.toThrow(SessionEncodeError);
      expect(await store.get(id)).toEqual(good);
    });
  },
);

async function storedValues(prefix: string, mode: 'hash' | 'string'): Promise<Buffer[]> {
  const keys = await keysUnder(raw, prefix);
  const values: Buffer[] = [];
  for (const k of keys) {
    if (mode === 'string') values.push((await raw.getBuffer(k)) as Buffer);
    else values.push(...Object.values(await raw.hgetallBuffer(k)));
  }
  return values;
}

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
    // another secret sees nothing: the key is the hash, not the id
    const other = createSessionStore({ redis: redisUrl(), prefix, mode, idSecret: randomBytes(32) });
    stores.push({ store: other, prefix });
    expect(await other.get(id)).toBeNull();
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
