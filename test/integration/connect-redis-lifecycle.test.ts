import { RedisStore } from 'connect-redis';
import { Cookie } from 'express-session';
import { createClient } from 'redis';
import { RedisessionStore } from 'redisession/express';
import { afterAll, describe, expect, it } from 'vitest';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';
import { storedLife } from '../helpers/sessions.js';

/*
 * connect-redis 9's own test (its index_test.ts: "defaults" and the lifecycle test), rewritten to
 * run against redisession in both modes, with connect-redis itself as the control in the same
 * run. Where the two differ on purpose, the expectation says so and the README's "Moving from
 * connect-redis" table explains it.
 */

const raw = rawClient();
const nodeRedis = createClient({ url: redisUrl() });
const prefixes: string[] = [];
const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const close of closers) await close();
  for (const p of prefixes) await dropPrefix(raw, p);
  nodeRedis.destroy();
});

type Kind = 'connect-redis' | 'hash' | 'string';

interface Subject {
  // biome-ignore lint/suspicious/noExplicitAny: both stores, through connect-redis's own loose typing
  store: any;
  /** Seconds the session has left in Redis (connect-redis: TTL of sess:<id>). */
  ttl(id: string): Promise<number>;
}

async function subject(kind: Kind): Promise<Subject> {
  const prefix = testPrefix(`lifecycle-${kind}`);
  prefixes.push(prefix);
  if (kind === 'connect-redis') {
    if (!nodeRedis.isOpen) await nodeRedis.connect();
    const store = new RedisStore({ client: nodeRedis, prefix });
    return { store, ttl: (id) => nodeRedis.ttl(prefix + id) };
  }
  const store = new RedisessionStore({ client: redisUrl(), prefix, mode: kind });
  closers.push(() => store.close());
  return {
    store,
    ttl: async (id) => {
      const life = await storedLife(raw, prefix, kind, id);
      return life === null ? -2 : life.lifeMs < 0 ? -1 : Math.ceil(life.lifeMs / 1000);
    },
  };
}

describe.each(['connect-redis', 'hash', 'string'] as const)('connect-redis 9 test suite: %s', (kind) => {
  it('defaults', async () => {
    const { store } = await subject(kind);
    expect(store.client).toBeDefined();
    expect(store.ttl).toBe(86400); // one day
    expect(store.disableTouch).toBe(false);
    expect(store.disableTTL).toBe(false);
    if (kind === 'connect-redis') {
      expect(store.scanCount).toBe(100);
      expect(store.serializer).toBe(JSON);
    } else {
      // different on purpose: fewer round trips per walk, and the compact format (see the README)
      expect(store.scanCount).toBe(1000);
      expect(store.serializer).toBe('compact');
    }
  });

  it('lifecycle', async () => {
    const { store, ttl: ttlOf } = await subject(kind);
    await store.clear();

    const sess = { foo: 'bar', cookie: { originalMaxAge: null } };
    await store.set('123', sess);
    expect(await store.get('123')).toEqual(sess);
    expect(await ttlOf('123')).toBeGreaterThanOrEqual(86399);

    let ttl = 60;
    const expires = new Date(Date.now() + ttl * 1000);
    await store.set('456', { cookie: { originalMaxAge: null, expires } });
    expect(await ttlOf('456')).toBeLessThanOrEqual(60);

    ttl = 90;
    const expires2 = new Date(Date.now() + ttl * 1000);
    await store.touch('456', { cookie: { originalMaxAge: null, expires: expires2 } });
    expect(await ttlOf('456')).toBeGreaterThan(60);

    expect(await store.length()).toBe(2);
    expect((await store.ids()).sort()).toEqual(['123', '456']);

    const all = await store.all();
    all.sort((a: { id: string }, b: { id: string }) => (a.id > b.id ? 1 : -1));
    // hash mode keeps one expiry per session, in the value: after a touch the stored cookie says
    // when the session now ends (connect-redis returns the cookie of the last set)
    const seen = kind === 'hash' ? expires2 : expires;
    expect(all).toEqual([
      { id: '123', foo: 'bar', cookie: { originalMaxAge: null } },
      { id: '456', cookie: { originalMaxAge: null, expires: seen.toISOString() } },
    ]);

    await store.destroy('456');
    expect(await store.length()).toBe(1);
    await store.clear();
    expect(await store.length()).toBe(0);

    // connect-redis writes these to expire in 1 s; 30 s here, so a busy machine cannot fail it
    const count = 1000;
    const cookie = new Cookie();
    for (let sid = 0; sid < count; sid++) {
      cookie.expires = new Date(Date.now() + 30_000);
      await store.set(`s${sid}`, { cookie });
    }
    expect(await store.length()).toBe(count);
    await store.clear();
    expect(await store.length()).toBe(0);

    await store.set('789', { cookie: { originalMaxAge: null, expires: new Date(Date.now() + ttl * 1000) } });
    expect(await store.length()).toBe(1);
    await store.set('789', { cookie: { originalMaxAge: null, expires: new Date(Date.now() - ttl * 1000) } });
    expect(await store.length()).toBe(0); // a session whose cookie expired is destroyed by set
  }, 60_000);
});
