import { createServer, type Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import { RedisessionStore } from 'redisession/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { baseUrl, CookieJar, close, listen } from '../helpers/http.js';
import { keysUnder, sleep } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

declare module 'express-session' {
  interface SessionData {
    user: string;
    visits: number;
    cart: string[];
  }
}

let redis: RedisServer;
const servers: Server[] = [];
const stores: RedisessionStore[] = [];

beforeAll(async () => {
  redis = await startRedisServer(); // private: one test stops it
});
afterAll(async () => {
  await Promise.all(servers.map(close));
  await Promise.all(stores.map((s) => s.close()));
  await redis.destroy();
});

async function app(
  mode: 'hash' | 'string',
  maxAge: number,
  options: ConstructorParameters<typeof RedisessionStore>[0] = {},
): Promise<CookieJar> {
  const store = new RedisessionStore({ redis: redis.url, mode, prefix: `express-${mode}-${maxAge}:`, ...options });
  stores.push(store);
  const a = express();
  a.use(session({ store, secret: 'test secret', resave: false, saveUninitialized: false, cookie: { maxAge } }));
  a.post('/login', (req, res) => {
    req.session.user = 'alice';
    res.json({ ok: true });
  });
  a.get('/me', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ user: req.session.user ?? null, visits: req.session.visits });
  });
  a.get('/slow', (req, res) => {
    // reads the session, changes nothing, answers late: express-session then calls store.touch
    setTimeout(() => res.json({ user: req.session.user ?? null }), 300);
  });
  a.post('/cart', (req, res) => {
    req.session.cart = [...(req.session.cart ?? []), 'book'];
    res.json({ cart: req.session.cart });
  });
  a.get('/cart', (req, res) => {
    res.json({ cart: req.session.cart ?? [] });
  });
  a.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });
  a.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  const server = await listen(createServer(a));
  servers.push(server);
  return new CookieJar(baseUrl(server));
}

describe.each(['hash', 'string'] as const)('express-session with RedisessionStore (%s mode)', (mode) => {
  it('logs in, keeps the session across requests, and logs out', async () => {
    const browser = await app(mode, 60_000);
    expect((await browser.request('/me')).body).toEqual({ user: null, visits: 1 });
    expect((await browser.request('/login', { method: 'POST' })).status).toBe(200);
    expect(browser.cookies.has('connect.sid')).toBe(true);
    expect((await browser.request('/me')).body).toEqual({ user: 'alice', visits: 2 });
    expect((await browser.request('/me')).body).toEqual({ user: 'alice', visits: 3 });

    const stolen = new Map(browser.cookies);
    await browser.request('/logout', { method: 'POST' });
    // the old cookie no longer opens anything: the session is gone from Redis
    const replay = new CookieJar(browser.base);
    for (const [k, v] of stolen) replay.cookies.set(k, v);
    expect((await replay.request('/me')).body).toMatchObject({ user: null });
  });

  it('starts a fresh session once the old one expired', async () => {
    const browser = await app(mode, 1000);
    await browser.request('/login', { method: 'POST' });
    expect((await browser.request('/me')).body).toMatchObject({ user: 'alice' });
    await sleep(1300);
    // a browser would drop the cookie; sending it anyway must not revive the session
    expect((await browser.request('/me')).body).toMatchObject({ user: null });
  });
});

describe.each(['hash', 'string'] as const)('concurrent requests (%s mode)', (mode) => {
  it("a slow request's touch does not undo what a faster request saved", async () => {
    const browser = await app(mode, 60_000);
    await browser.request('/login', { method: 'POST' });
    const slow = browser.request('/slow');
    await sleep(50);
    await browser.request('/cart', { method: 'POST' });
    await slow;
    expect((await browser.request('/cart')).body).toEqual({ cart: ['book'] });
  });
});

describe('express-session when a touch fails after the response started', () => {
  it.each(['hash', 'string'] as const)(
    '%s mode: the page arrives whole, the failure is logged, the session keeps its expiry',
    async (mode) => {
      // a real failure of touch alone: an ACL user that may do anything but what touch runs
      const admin = new Redis(redis.url);
      const denied = mode === 'string' ? '-pexpire' : '-evalsha';
      await admin.acl('SETUSER', `notouch-${mode}`, 'reset', 'on', '>pw', '~*', '&*', '+@all', denied, '-eval');
      const warnings: string[] = [];
      const logger = { debug: () => {}, error: () => {}, warn: (_o: unknown, msg: string) => warnings.push(msg) };
      const user = `redis://notouch-${mode}:pw@127.0.0.1:${redis.port}`;
      // hash-mode writes run scripts too: log in with a full user, read back with the restricted one
      const prefix = `express-notouch-${mode}:`;
      const browser = await app(mode, 60_000, { prefix });
      await browser.request('/login', { method: 'POST' });
      const reader = await app(mode, 60_000, { prefix, redis: user, logger });
      for (const [k, v] of browser.cookies) reader.cookies.set(k, v);
      // a failure passed to express-session after the headers went out ends in express closing the
      // connection (the browser's next request on it fails): keep-alive connections must stay open
      let closed = 0;
      servers.at(-1)?.on('connection', (socket) => socket.on('close', () => closed++));
      const ttlBefore = await lifeLeft(admin, prefix, mode);
      expect(ttlBefore).toBeGreaterThan(50_000);
      for (let i = 0; i < 5; i++) {
        // express-session calls touch after writing the headers and the body of this response
        const res = await reader.request('/slow');
        expect(res).toEqual({ status: 200, body: { user: 'alice' } });
      }
      await sleep(100);
      expect(closed).toBe(0);
      expect(warnings.filter((m) => /touch failed/.test(m))).toHaveLength(5);
      // not extended: 5 slow requests (300 ms each) later, a working touch would be back at 60 s
      expect(await lifeLeft(admin, prefix, mode)).toBeLessThan(ttlBefore - 1000);
      admin.disconnect();
    },
  );

  it('without a logger, the first failed touch is a process warning, and only the first', async () => {
    const admin = new Redis(redis.url);
    await admin.acl('SETUSER', 'notouch-quiet', 'reset', 'on', '>pw', '~*', '&*', '+@all', '-pexpire');
    const prefix = 'express-notouch-quiet:';
    const browser = await app('string', 60_000, { prefix });
    await browser.request('/login', { method: 'POST' });
    const reader = await app('string', 60_000, { prefix, redis: `redis://notouch-quiet:pw@127.0.0.1:${redis.port}` });
    for (const [k, v] of browser.cookies) reader.cookies.set(k, v);
    const warned: string[] = [];
    const onWarning = (w: Error) => warned.push(w.message);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 3; i++) expect((await reader.request('/slow')).status).toBe(200);
      await sleep(50);
    } finally {
      process.off('warning', onWarning);
      admin.disconnect();
    }
    expect(warned.filter((m) => /touch failed/.test(m))).toHaveLength(1);
    expect(warned.find((m) => /touch failed/.test(m))).toMatch(/NOPERM/);
  });
});

/**
 * Milliseconds the one session under a prefix has left: its key's PTTL in string mode, the expiry
 * in its stored value in hash mode (the bucket's own TTL covers every session of the bucket).
 */
async function lifeLeft(admin: Redis, prefix: string, mode: 'hash' | 'string'): Promise<number> {
  const keys = await keysUnder(admin, prefix); // the session's key, without the store's manifest
  expect(keys).toHaveLength(1);
  const key = keys[0] as Buffer;
  if (mode === 'string') return admin.pttl(key);
  const [, value] = await admin.hgetallBuffer(key).then((h) => Object.entries(h)[0] ?? []);
  return (decodeEnvelope(value as Buffer).expiresAt ?? 0) - Date.now();
}

describe('express-session while Redis is down', () => {
  it('answers 500 through next(err), then works again when Redis is back', async () => {
    const browser = await app('hash', 60_000);
    await browser.request('/login', { method: 'POST' });
    await redis.stop(true);
    const down = await browser.request('/me');
    expect(down.status).toBe(500);
    await redis.restart();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await browser.request('/login', { method: 'POST' })).status;
      if (status !== 200) await sleep(100);
    }
    expect(status).toBe(200);
    expect((await browser.request('/me')).body).toMatchObject({ user: 'alice' });
  });
});

describe('log out everywhere (userId option)', () => {
  it('one device logs the user out on every device; other users stay in', async () => {
    const store = new RedisessionStore({
      redis: redis.url,
      prefix: 'express-users:',
      buckets: 256,
      userId: (s) => s.user as string | undefined,
    });
    stores.push(store);
    const a = express();
    a.use(session({ store, secret: 'test secret', resave: false, saveUninitialized: false }));
    a.post('/login/:user', (req, res) => {
      req.session.user = req.params.user;
      res.json({ ok: true });
    });
    a.get('/me', (req, res) => res.json({ user: req.session.user ?? null }));
    a.get('/devices', async (req, res) => res.json(await store.sessionsOf(req.session.user as string)));
    a.post('/logout-everywhere', async (req, res) =>
      res.json({ ended: await store.destroyUser(req.session.user as string) }),
    );
    const server = await listen(createServer(a));
    servers.push(server);
    const laptop = new CookieJar(baseUrl(server));
    const phone = new CookieJar(baseUrl(server));
    const other = new CookieJar(baseUrl(server));
    await laptop.request('/login/alice', { method: 'POST' });
    await phone.request('/login/alice', { method: 'POST' });
    await other.request('/login/bob', { method: 'POST' });
    const devices = (await phone.request('/devices')).body as Array<{ id: string }>;
    expect(devices).toHaveLength(2);
    expect((await phone.request('/logout-everywhere', { method: 'POST' })).body).toEqual({ ended: 2 });
    expect((await laptop.request('/me')).body).toEqual({ user: null });
    expect((await phone.request('/me')).body).toEqual({ user: null });
    expect((await other.request('/me')).body).toEqual({ user: 'bob' });
  });
});
