import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bucketKey, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { storeFixture } from '../helpers/redis.js';

/*
 * The request path's own command encoding and script sending (src/redis/fast-command.ts) against
 * the real server: script cache loss and reconnects in the middle of a burst.
 */

const { raw, prefixes, make } = storeFixture();
const sid = () => randomBytes(24).toString('base64url');

describe.each(['hash', 'string'] as const)('%s mode request path', (mode) => {
  let prefix = '';
  const store = () => {
    prefix = `test:req:${mode}:${randomBytes(4).toString('hex')}:`;
    prefixes.push(prefix);
    return make({ mode, prefix, inlineSweep: mode === 'hash' ? 1 : 0 });
  };
  /** The Redis key the session lives under (its bucket in hash mode). */
  const redisKey = (id: string) => {
    const key = defaultKeyGenerator(id);
    const p = Buffer.from(prefix);
    return mode === 'hash' ? bucketKey(p, defaultBucketOf(key, 65536), 2) : Buffer.concat([p, key]);
  };

  it('a flushed script cache (SCRIPT FLUSH) costs a retry, never a write', async () => {
    const s = store();
    const ids = Array.from({ length: 50 }, sid);
    await Promise.all(ids.map((id, i) => s.set(id, { i })));
    await raw.script('FLUSH');
    await Promise.all(ids.map((id, i) => s.set(id, { i, again: true })));
    await raw.script('FLUSH');
    await Promise.all(ids.map((id) => s.touch(id, { cookie: { expires: new Date(Date.now() + 3_600_000) } })));
    expect(await Promise.all(ids.map((id) => s.get(id)))).toEqual(ids.map((_, i) => ({ i, again: true })));
  });

  it('a connection killed in the middle of a burst: every write lands once, every read answers', async () => {
    const s = store();
    s.redis.on('error', () => {});
    const ids = Array.from({ length: 200 }, sid);
    await Promise.all(ids.map((id, i) => s.set(id, { i })));
    const id = await s.redis.call('CLIENT', 'ID');
    const burst = [
      ...ids.map((x, i) => s.set(x, { i, v: 2 })),
      raw.call('CLIENT', 'KILL', 'ID', String(id)),
      ...ids.map((x) => s.get(x)),
    ];
    await Promise.all(burst);
    expect(await s.redis.call('CLIENT', 'ID')).not.toBe(id);
    expect(await Promise.all(ids.map((x) => s.get(x)))).toEqual(ids.map((_, i) => ({ i, v: 2 })));
  });

  it('replies are exact: a miss is null, a stored value comes back whole, a Redis error reaches the caller', async () => {
    const s = store();
    const id = sid();
    expect(await s.get(id)).toBeNull();
    const session = { text: 'ünïcødé 🍪', bytes: 'x'.repeat(5000), n: 2 ** 40 };
    await s.set(id, session);
    expect(await s.get(id)).toEqual(session);
    await s.destroy(id);
    expect(await s.get(id)).toBeNull();
    // something of the wrong type where the session would live
    const other = sid();
    if (mode === 'hash') await raw.set(redisKey(other), 'not a hash');
    else await raw.hset(redisKey(other), 'f', 'v');
    await expect(s.get(other)).rejects.toThrow(/WRONGTYPE/);
    if (mode === 'hash') await expect(s.set(other, { a: 1 })).rejects.toThrow(/WRONGTYPE/);
    await raw.del(redisKey(other));
  });
});
