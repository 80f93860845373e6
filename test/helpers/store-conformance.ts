import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  createSessionStore,
  InvalidSessionIdError,
  type RedisConnection,
  SessionEncodeError,
  type SessionStore,
} from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { dropPrefix, keysUnder, sleep, testPrefix } from './redis.js';
import { stringOrTombstone } from './sessions.js';

/*
 * The store's contract, run against any Redis topology: a single server (store.test.ts) and a
 * Redis Cluster (cluster.test.ts). `nodes` are plain clients to every node holding data, for
 * looking at what was stored and for cleaning up.
 */

const sid = () => randomBytes(24).toString('base64url');

export function session(extra: Record<string, unknown> = {}, maxAgeMs = 60_000) {
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

/** The same session with a cookie that now ends in `maxAgeMs`. */
function withCookie<T extends { cookie: object }>(s: T, maxAgeMs: number): T {
  return {
    ...s,
    cookie: { ...s.cookie, originalMaxAge: maxAgeMs, expires: new Date(Date.now() + maxAgeMs).toISOString() },
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

export function storeConformance(label: string, redis: () => RedisConnection, nodes: () => Redis[]): void {
  const stores: Array<{ store: SessionStore; prefix: string }> = [];
  afterAll(async () => {
    for (const { store, prefix } of stores) {
      for (const node of nodes()) await dropPrefix(node, prefix);
      await store.close();
    }
  });

  async function storedValues(prefix: string, mode: 'hash' | 'string'): Promise<Buffer[]> {
    const values: Buffer[] = [];
    for (const node of nodes()) {
      for (const k of await keysUnder(node, prefix)) {
        if (mode === 'string') values.push((await stringOrTombstone(node, k)) as Buffer);
        else values.push(...Object.values(await node.hgetallBuffer(k)));
      }
    }
    return values;
  }

  describe.each(matrix)(
    `${label}: store in $mode mode, compression $compression, serializer $serializer`,
    ({ mode, compression, serializer }) => {
      const prefix = testPrefix(mode);
      const store = createSessionStore({
        redis: redis(),
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
        await store.set(id, session({}, 1000));
        expect(await store.get(id)).not.toBeNull();
        await sleep(1200);
        expect(await store.get(id)).toBeNull();
        await store.touch(id, session({}, 60_000)); // touch after expiry must not bring it back
        expect(await store.get(id)).toBeNull();
      });

      it('uses the default ttl when the session has no cookie expiry', async () => {
        const short = createSessionStore({ redis: redis(), mode, prefix, ttl: 1 });
        stores.push({ store: short, prefix });
        const id = sid();
        await short.get(sid()); // connected first: the expiry is stamped before the write waits for it
        await short.set(id, { user: 1 });
        expect(await short.get(id)).toEqual({ user: 1 });
        await sleep(1200);
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
        await store.set(id, { user: 7 }, { ttlMs: 1000 });
        expect(await store.get(id)).toEqual({ user: 7 });
        await sleep(1200);
        expect(await store.get(id)).toBeNull();
      });

      it('touch extends the lifetime and keeps the stored data', async () => {
        const id = sid();
        const stored = session({ cart: ['a'] }, 1000);
        await store.set(id, stored);
        await sleep(400);
        const touched = session({}, 60_000);
        await store.touch(id, touched);
        await sleep(800); // past the first expiry
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

      it('touch follows a shorter cookie when it carries the session as stored', async () => {
        const id = sid();
        const stored = session({ cart: ['a'] }, 60_000);
        await store.set(id, stored);
        await store.touch(id, withCookie(stored, 400)); // the app shortened the cookie, data unchanged
        expect(await store.get(id)).not.toBeNull();
        await sleep(550);
        expect(await store.get(id)).toBeNull();
      });

      it('a touch with an expired cookie ends the session, unless its copy is older than the stored one', async () => {
        const id = sid();
        const stored = session({ cart: [] });
        await store.set(id, stored);
        await store.touch(id, withCookie({ ...stored, cart: ['old'] }, -1000)); // a stale copy
        expect(await store.get(id)).toMatchObject({ cart: [] });
        await store.touch(id, withCookie(stored, -1000));
        expect(await store.get(id)).toBeNull();
      });

      it('a destroyed id stays destroyed: a save still in flight is dropped', async () => {
        const id = sid();
        await store.set(id, session({ n: 1 }));
        await store.destroy(id);
        await store.set(id, session({ n: 2 })); // a request that loaded it before the logout ends
        expect(await store.get(id)).toBeNull();
      });

      // The limits of the touch rule (README, "touch"): the store only has the data to tell a
      // stale touch from a deliberate change of the cookie.
      it('limit: a save that changes only the cookie is cut short by a stale touch', async () => {
        const id = sid();
        const data = session({ cart: ['a'] });
        await store.set(id, data);
        await store.set(id, withCookie(data, 30 * 86_400_000)); // "remember me", nothing else changed
        await store.touch(id, withCookie(data, 400)); // an older request ends, with the old short cookie
        await sleep(550);
        expect(await store.get(id)).toBeNull();
      });

      it('limit: a stale touch extends again a life that a newer save shortened', async () => {
        const id = sid();
        const before = session({ remember: true }, 60_000);
        await store.set(id, before);
        await store.set(id, withCookie({ ...before, remember: false }, 400)); // "forget me"
        await store.touch(id, before); // an older request ends, with the old long cookie
        await sleep(550);
        expect(await store.get(id)).toMatchObject({ remember: false });
      });

      it('touch never creates a session that was destroyed', async () => {
        const id = sid();
        await store.set(id, session());
        await store.destroy(id);
        await store.touch(id, session());
        expect(await store.get(id)).toBeNull();
      });

      it('counts and lists live sessions (ids, all) and clears only its own prefix', async () => {
        const p = testPrefix(`${mode}-count`);
        const s = createSessionStore({ redis: redis(), mode, prefix: p, ttl: 60, scanCount: 10 });
        stores.push({ store: s, prefix: p });
        const neighbour = createSessionStore({ redis: redis(), mode, prefix: `${p}x` });
        stores.push({ store: neighbour, prefix: `${p}x` });
        await neighbour.set(sid(), { other: true });
        const ids = Array.from({ length: 25 }, sid);
        for (const [i, id] of ids.entries()) await s.set(id, { i });
        await s.set(sid(), { short: true }, { ttlMs: 100 });
        await sleep(200);
        expect(await s.length()).toBe(25);
        expect((await s.ids()).sort()).toEqual([...ids].sort());
        const all = await s.all();
        expect(all).toHaveLength(25);
        for (const one of all) expect(one.i).toBe(ids.indexOf(one.id));
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
}
