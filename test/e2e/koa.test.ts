import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import session from 'koa-session';
import { koaStore } from 'redisession/koa';
import { afterAll, describe, expect, it } from 'vitest';
import { baseUrl, CookieJar, close, listen } from '../helpers/http.js';
import { dropPrefix, keysUnder, rawClient, redisUrl, sleep, testPrefix } from '../helpers/redis.js';

const servers: Server[] = [];
const closers: Array<() => Promise<void>> = [];
const prefixes: string[] = [];
const raw = rawClient();
afterAll(async () => {
  await Promise.all(servers.map(close));
  await Promise.all(closers.map((c) => c()));
  for (const p of prefixes) await dropPrefix(raw, p);
});

async function app(maxAge: number | 'session'): Promise<CookieJar & { prefix: string }> {
  const prefix = testPrefix('koa');
  prefixes.push(prefix);
  const store = koaStore({ redis: redisUrl(), prefix });
  closers.push(() => store.sessions.close());
  const k = new Koa();
  k.keys = ['koa test key'];
  k.use(session({ store, maxAge, renew: false }, k));
  k.use(async (ctx) => {
    const s = ctx.session as unknown as Record<string, unknown> | null;
    if (ctx.path === '/login') {
      if (s) s.user = 'carol';
      ctx.body = { ok: true };
    } else if (ctx.path === '/logout') {
      ctx.session = null;
      ctx.body = { ok: true };
    } else {
      ctx.body = { user: s?.user ?? null };
    }
  });
  const server = await listen(createServer(k.callback()));
  servers.push(server);
  return Object.assign(new CookieJar(baseUrl(server)), { prefix });
}

describe('koa-session with koaStore', () => {
  it('logs in, keeps the session in Redis, and logs out', async () => {
    const browser = await app(60_000);
    expect((await browser.request('/me')).body).toEqual({ user: null });
    await browser.request('/login');
    expect(browser.cookies.has('koa.sess')).toBe(true);
    expect((await browser.request('/me')).body).toEqual({ user: 'carol' });
    expect(await keysUnder(raw, browser.prefix)).toHaveLength(1); // one bucket holds it
    const stolen = new Map(browser.cookies);
    await browser.request('/logout');
    // all that stays is the destroyed id's tombstone (8 bytes, no session data), which refuses a
    // save still in flight
    for (const key of await keysUnder(raw, browser.prefix)) {
      for (const value of Object.values(await raw.hgetallBuffer(key))) expect(value[0]).toBe(0xde);
    }
    const replay = new CookieJar(browser.base);
    for (const [k, v] of stolen) replay.cookies.set(k, v);
    expect((await replay.request('/me')).body).toEqual({ user: null });
  });

  it('uses maxAge as the TTL: an expired session starts fresh', async () => {
    const browser = await app(1000);
    await browser.request('/login');
    expect((await browser.request('/me')).body).toEqual({ user: 'carol' });
    await sleep(1300);
    expect((await browser.request('/me')).body).toEqual({ user: null });
  });

  it("stores browser-session cookies ('session' maxAge) with the store's default TTL", async () => {
    const browser = await app('session');
    await browser.request('/login');
    expect((await browser.request('/me')).body).toEqual({ user: 'carol' });
  });
});
