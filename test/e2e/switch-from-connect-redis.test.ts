import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CookieJar } from '../helpers/http.js';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';
import { storedLife } from '../helpers/sessions.js';
import { startApp as startOnConnectRedis } from './fixtures/connect-redis-app.js';
import { startApp as startOnRedisession } from './fixtures/redisession-app.js';

/*
 * The promise of a drop-in: an express app on connect-redis, switched by changing the store's
 * import and constructor and nothing else, behaves the same over real HTTP against a real Redis.
 */

const raw = rawClient();
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await dropPrefix(raw, p);
});

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8').split('\n');

/** The session id in an express-session cookie (`s:<id>.<signature>`, URL-encoded). */
const idOf = (jar: CookieJar) => {
  const value = decodeURIComponent(jar.cookies.get('connect.sid') ?? '');
  return value.slice(2, value.lastIndexOf('.'));
};

async function scenario(kind: 'connect-redis' | 'redisession') {
  const prefix = testPrefix(`switch-${kind}`);
  prefixes.push(prefix);
  const app = await (kind === 'connect-redis' ? startOnConnectRedis : startOnRedisession)(redisUrl(), prefix);
  /** Days the session has left in Redis, as each store keeps it. */
  const daysLeft = async (jar: CookieJar) => {
    const ms =
      kind === 'connect-redis'
        ? await raw.pttl(prefix + idOf(jar))
        : ((await storedLife(raw, prefix, 'hash', idOf(jar)))?.lifeMs ?? -2);
    return Math.round(ms / 86_400_000);
  };
  const post = (body?: object) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  try {
    const ann = new CookieJar(app.url);
    const bob = new CookieJar(app.url);
    const seen: Record<string, unknown> = {};
    seen.anonymous = (await ann.request('/me')).body;
    seen.cookieBeforeLogin = ann.cookies.has('connect.sid');
    seen.login = (await ann.request('/login', post({ user: 'ann' }))).body;
    seen.views = [(await ann.request('/me')).body, (await ann.request('/me')).body];
    seen.peek = (await ann.request('/peek')).body;
    seen.afterPeek = (await ann.request('/me')).body;
    await bob.request('/login', post({ user: 'bob' }));
    seen.admin = (await ann.request('/admin/sessions')).body;
    seen.daysBefore = await daysLeft(ann);
    await ann.request('/remember', post());
    seen.daysRemembered = await daysLeft(ann);
    const stolen = new CookieJar(app.url);
    for (const [k, v] of ann.cookies) stolen.cookies.set(k, v);
    seen.logout = (await ann.request('/logout', post())).body;
    seen.replayAfterLogout = (await stolen.request('/me')).body;
    seen.adminAfterLogout = (await bob.request('/admin/sessions')).body;
    return seen;
  } finally {
    await app.close();
    await (app.store as { close?: () => Promise<void> }).close?.();
  }
}

describe('an express app switched from connect-redis', () => {
  it('differs only in the import and the constructor of the store', () => {
    const before = fixture('connect-redis-app.ts');
    const after = fixture('redisession-app.ts');
    expect(before.filter((line) => !after.includes(line))).toEqual([
      "import { RedisStore } from 'connect-redis';",
      '  const store = new RedisStore({ client: redisClient, prefix, ttl: 3600 });',
    ]);
    expect(after.filter((line) => !before.includes(line))).toEqual([
      "import { RedisessionStore } from 'redisession/express';",
      '  const store = new RedisessionStore({ client: redisUrl, prefix, ttl: 3600 });',
    ]);
  });

  it('answers every request as it did on connect-redis', async () => {
    const control = await scenario('connect-redis');
    const switched = await scenario('redisession');
    expect(control).toEqual({
      anonymous: { user: null, views: 0 },
      cookieBeforeLogin: false,
      login: { ok: true },
      views: [
        { user: 'ann', views: 1 },
        { user: 'ann', views: 2 },
      ],
      peek: { user: 'ann' },
      afterPeek: { user: 'ann', views: 3 },
      admin: { count: 2, ids: 2, users: ['ann', 'bob'] },
      daysBefore: 0,
      daysRemembered: 30,
      logout: { ok: true },
      replayAfterLogout: { user: null, views: 0 },
      adminAfterLogout: { count: 1, ids: 1, users: ['bob'] },
    });
    expect(switched).toEqual(control);
  });
});
