import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSessionStore } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';

/**
 * The commands the web-tier library needs, and nothing else: what a Redis ACL user for the
 * session store must be granted (documented in the README). Commands called inside our Lua
 * scripts need the permission too. Each one was checked to be needed by dropping it in turn.
 */
const STORE_COMMANDS = [
  // ioredis's ready check (without it ioredis warns and skips the check)
  'info',
  // string mode
  'get',
  'set',
  'pexpire',
  'unlink',
  // hash mode
  'hget',
  'hdel',
  'hset',
  'hscan',
  'hrandfield',
  'pttl',
  // scripts (EVALSHA, EVAL on NOSCRIPT) and what they call
  'evalsha',
  'eval',
  'time',
  'type',
  'getrange',
  // length, clear, sweep
  'scan',
];

/** What the `legacy` option adds (inside legacy_move.lua), on top of the old prefix's keys. */
const LEGACY_COMMANDS = ['del', 'exists'];
/** What the `userId` option adds: the index and the session are written in one MULTI; sessionsOf reads the index. */
const USER_INDEX_COMMANDS = ['multi', 'exec', 'hgetall'];

const raw = rawClient();
const prefix = testPrefix('acl');
const user = `rs-${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');

const oldPrefix = testPrefix('acl-old');

afterAll(async () => {
  await raw.call('ACL', 'DELUSER', user);
  await dropPrefix(raw, prefix);
  await dropPrefix(raw, oldPrefix);
});

describe('a Redis ACL user limited to the prefix and the commands the store uses', () => {
  it.each(['hash', 'string'] as const)('%s mode: every store method works with exactly those rights', async (mode) => {
    await raw.call(
      'ACL',
      'SETUSER',
      user,
      'reset',
      'on',
      `>${password}`,
      `~${prefix}*`,
      'resetchannels',
      '-@all',
      ...STORE_COMMANDS.map((c) => `+${c}`),
    );
    const { port } = new URL(redisUrl());
    const store = createSessionStore({
      redis: `redis://${user}:${password}@127.0.0.1:${port}`,
      mode,
      prefix,
      inlineSweep: 1,
    });
    const id = randomBytes(24).toString('base64url');
    await store.set(id, { user: 'erin' });
    expect(await store.get(id)).toEqual({ user: 'erin' });
    await store.touch(id, { cookie: { expires: new Date(Date.now() + 60_000) } });
    await store.set(randomBytes(24).toString('base64url'), { short: true }, { ttlMs: 20 });
    expect(await store.length()).toBeGreaterThanOrEqual(1);
    await store.sweep({ graceMs: 0 });
    await store.destroy(id);
    expect(await store.get(id)).toBeNull();
    await store.clear();
    expect(await store.length()).toBe(0);
    await store.close();

    // and the rights really are that narrow
    const same = new Redis({ port: Number(port), host: '127.0.0.1', username: user, password });
    await expect(same.get('outside-the-prefix')).rejects.toThrow(/NOPERM/);
    await expect(same.call('FLUSHDB')).rejects.toThrow(/NOPERM/);
    await same.quit();
  });

  it.each(['hash', 'string'] as const)('%s mode with legacy and userId: the few commands they add', async (mode) => {
    await raw.call(
      'ACL',
      'SETUSER',
      user,
      'reset',
      'on',
      `>${password}`,
      `~${prefix}*`,
      `~${oldPrefix}*`,
      'resetchannels',
      '-@all',
      ...[...STORE_COMMANDS, ...LEGACY_COMMANDS, ...USER_INDEX_COMMANDS].map((c) => `+${c}`),
    );
    const { port } = new URL(redisUrl());
    const store = createSessionStore({
      redis: `redis://${user}:${password}@127.0.0.1:${port}`,
      mode,
      prefix,
      legacy: { layout: 'connect-redis', prefix: oldPrefix },
      userId: (s) => s.user as string | undefined,
    });
    const moved = randomBytes(24).toString('base64url');
    const touched = randomBytes(24).toString('base64url');
    await raw.set(`${oldPrefix}${moved}`, JSON.stringify({ user: 'frank' }), 'EX', 60);
    await raw.set(`${oldPrefix}${touched}`, JSON.stringify({ user: 'frank' }), 'EX', 60);
    expect(await store.get(moved)).toEqual({ user: 'frank' });
    await store.touch(touched, { user: 'frank', cookie: { expires: new Date(Date.now() + 60_000) } });
    expect((await store.sessionsOf('frank')).length).toBe(2);
    await store.set(randomBytes(24).toString('base64url'), { user: 'frank' });
    expect(await store.destroyUser('frank')).toBe(3);
    await store.destroy(moved);
    await store.sweep({ graceMs: 0 });
    await store.clear();
    await store.close();
  });
});
