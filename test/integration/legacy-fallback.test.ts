import { ConfigError, createSessionStore } from 'redisession';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { bucketKey, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { recordingLogger, redisUrl, storeFixture, testPrefix } from '../helpers/redis.js';

const { raw, prefixes, make, sid } = storeFixture();

function session(user: string, maxAgeMs = 60_000) {
  return { cookie: { originalMaxAge: maxAgeMs, expires: new Date(Date.now() + maxAgeMs).toISOString() }, user };
}

/** How long the stored session has left: the key's PTTL (string mode) or the expiry in its envelope (hash mode). */
async function remainingMs(mode: 'hash' | 'string', prefix: string, id: string): Promise<number> {
  const key = defaultKeyGenerator(id);
  if (mode === 'string') return raw.pttl(Buffer.concat([Buffer.from(prefix), key]));
  const value = await raw.hgetBuffer(bucketKey(Buffer.from(prefix), defaultBucketOf(key, 65536), 2), key);
  return (decodeEnvelope(value as Buffer).expiresAt as number) - Date.now();
}

/** A connect-redis-shaped legacy key (what connect-redis 9 writes: SET sess:<id> <JSON> EX ttl). */
async function legacyConnectRedis(prefix: string, id: string, value: object, ttlSec: number) {
  await raw.set(`${prefix}${id}`, JSON.stringify(value), 'EX', ttlSec);
}

describe.each(['hash', 'string'] as const)('read-through from connect-redis into %s mode', (mode) => {
  const old = testPrefix('cr');
  const prefix = testPrefix(`new-${mode}`);
  prefixes.push(old, prefix);
  const store = make({ mode, prefix, legacy: { layout: 'connect-redis', prefix: old } });

  it('moves a legacy session on first read, with its remaining TTL, and deletes the legacy key', async () => {
    const id = sid();
    await legacyConnectRedis(old, id, session('alice'), 600);
    await raw.pexpire(`${old}${id}`, 300_000); // TTL shorter than the cookie: the TTL wins
    expect(await store.get(id)).toMatchObject({ user: 'alice' });
    expect(await raw.exists(`${old}${id}`)).toBe(0);
    expect(await store.get(id)).toMatchObject({ user: 'alice' });
    // the new copy keeps the legacy TTL (300 s), not the cookie's 600 s or the store's default day
    expect(await remainingMs(mode, prefix, id)).toBeGreaterThan(290_000);
    expect(await remainingMs(mode, prefix, id)).toBeLessThanOrEqual(300_000);
  });

  it('two concurrent reads of one legacy session both get it', async () => {
    for (let i = 0; i < 20; i++) {
      const id = sid();
      await legacyConnectRedis(old, id, session(`u${i}`), 600);
      const results = await Promise.all([store.get(id), store.get(id), store.get(id), store.get(id)]);
      for (const r of results) expect(r).toMatchObject({ user: `u${i}` });
      expect(await raw.exists(`${old}${id}`)).toBe(0);
    }
  });

  it('never overwrites a newer session already in the new layout', async () => {
    const id = sid();
    await store.set(id, session('new'));
    await legacyConnectRedis(old, id, session('old'), 600);
    expect(await store.get(id)).toMatchObject({ user: 'new' });
    await store.destroy(id);
    // destroy takes the legacy copy too: a logout is a logout
    expect(await raw.exists(`${old}${id}`)).toBe(0);
    expect(await store.get(id)).toBeNull();
  });

  it('touch on a legacy-only session moves it and extends it', async () => {
    const id = sid();
    await legacyConnectRedis(old, id, session('bob'), 5);
    await store.touch(id, session('bob', 120_000));
    expect(await raw.exists(`${old}${id}`)).toBe(0);
    expect(await store.get(id)).toMatchObject({ user: 'bob' });
  });

  it('a legacy value that is not JSON is a miss and is left in place', async () => {
    const id = sid();
    await raw.set(`${old}${id}`, '{not json', 'EX', 60);
    expect(await store.get(id)).toBeNull();
    expect(await raw.exists(`${old}${id}`)).toBe(1);
  });

  it('a legacy copy rewritten after "log out everywhere" does not bring the session back', async () => {
    const revokedPrefix = testPrefix('revoked');
    prefixes.push(revokedPrefix);
    const indexed = make({
      mode,
      prefix: revokedPrefix,
      legacy: { layout: 'connect-redis', prefix: old },
      userId: (s) => s.user as string | undefined,
    });
    const id = sid();
    await legacyConnectRedis(old, id, session('mallory'), 600);
    expect(await indexed.get(id)).toMatchObject({ user: 'mallory' }); // moved, and indexed
    expect(await indexed.destroyUser('mallory')).toBe(1);
    // an old web server (rolling deploy) writes its copy back under the legacy key
    await legacyConnectRedis(old, id, session('mallory'), 600);
    expect(await indexed.get(id)).toBeNull();
    expect(await raw.exists(`${old}${id}`)).toBe(0);
  });

  it('logs an unreadable legacy value without quoting it (parsers quote their input)', async () => {
    const { lines, logger } = recordingLogger();
    const quiet = testPrefix('quiet');
    prefixes.push(quiet);
    const logged = make({
      mode: 'hash',
      prefix: quiet,
      logger,
      legacy: { layout: 'connect-redis', prefix: old },
    });
    const id = sid();
    await raw.set(`${old}${id}`, 'sTOKEN-9f3a-secret{', 'EX', 60);
    expect(await logged.get(id)).toBeNull();
    expect(lines.some((l) => /legacy session cannot be decoded/.test(l.msg ?? ''))).toBe(true);
    expect(JSON.stringify(lines)).not.toMatch(/TOKEN|secret/);
  });
});

describe('read-through from the other redisession mode', () => {
  it('string mode -> hash mode keeps the session and its expiry', async () => {
    const oldPrefix = testPrefix('old-string');
    const prefix = testPrefix('new-hash');
    prefixes.push(oldPrefix, prefix);
    const before = make({ mode: 'string', prefix: oldPrefix });
    const after = make({ mode: 'hash', prefix, legacy: { layout: 'string', prefix: oldPrefix } });
    const id = sid();
    await before.set(id, session('carol', 90_000));
    expect(await after.get(id)).toMatchObject({ user: 'carol' });
    expect(await before.get(id)).toBeNull();
  });

  it('hash mode -> string mode', async () => {
    const oldPrefix = testPrefix('old-hash');
    const prefix = testPrefix('new-string');
    prefixes.push(oldPrefix, prefix);
    const before = make({ mode: 'hash', prefix: oldPrefix, buckets: 64 });
    const after = make({ mode: 'string', prefix, legacy: { layout: 'hash', prefix: oldPrefix, buckets: 64 } });
    const id = sid();
    await before.set(id, session('dave'));
    expect(await after.get(id)).toMatchObject({ user: 'dave' });
    expect(await before.get(id)).toBeNull();
  });

  it('refuses a legacy source that is the store itself, and unknown layouts', () => {
    expect(() =>
      createSessionStore({ redis: redisUrl(), prefix: 'a:', legacy: { layout: 'hash', prefix: 'a:' } }),
    ).toThrow(ConfigError);
    expect(() =>
      createSessionStore({ redis: redisUrl(), legacy: { layout: 'memcached' as 'hash', prefix: 'a:' } }),
    ).toThrow(/layout must be one of connect-redis, string, hash/);
  });
});
