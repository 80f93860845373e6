import { createServer, type Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import { RedisessionStore } from 'redisession/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { bucketKey, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { baseUrl, CookieJar, close, listen } from '../helpers/http.js';
import { redisUrl, sleep, testPrefix } from '../helpers/redis.js';

/*
 * Log out means logged out, over HTTP with express-session: a slow request of the same browser
 * that loaded the session before the logout cannot save it back when it ends, and a touch follows
 * the cookie when the app shortens it (issue 14: the server-side life must not outlive the cookie).
 */

declare module 'express-session' {
  interface SessionData {
    user: string;
    cart: string[];
  }
}

const servers: Server[] = [];
const stores: RedisessionStore[] = [];
let raw: Redis;

beforeAll(() => {
  raw = new Redis(redisUrl());
});
afterAll(async () => {
  await Promise.all(servers.map(close));
  await Promise.all(stores.map((s) => s.close()));
  raw.disconnect();
});

async function app(mode: 'hash' | 'string') {
  const prefix = testPrefix(`logout-${mode}`);
  const store = new RedisessionStore({
    redis: redisUrl(),
    mode,
    prefix,
    userId: (s) => s.user as string | undefined,
  });
  stores.push(store);
  const a = express();
  a.use(
    session({
      store,
      secret: 'test secret',
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { maxAge: 600_000 },
    }),
  );
  a.post('/login', (req, res) => {
    req.session.user = 'alice';
    res.json({ ok: true });
  });
  a.get('/me', (req, res) => res.json({ user: req.session.user ?? null }));
  a.post('/cart-slowly', (req, res) => {
    // loads the session now, changes it later: express-session saves it when the response ends
    setTimeout(() => {
      req.session.cart = [...(req.session.cart ?? []), 'book'];
      res.json({ cart: req.session.cart });
    }, 300);
  });
  a.post('/shorter', (req, res) => {
    // only the cookie changes: express-session calls store.touch, not set
    req.session.cookie.maxAge = 1500;
    res.json({ ok: true });
  });
  a.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });
  const server = await listen(createServer(a));
  servers.push(server);
  return { browser: new CookieJar(baseUrl(server)), prefix };
}

/** How long the session behind the browser's cookie has left in Redis, ms. */
async function remaining(mode: 'hash' | 'string', prefix: string, browser: CookieJar): Promise<number> {
  const cookie = decodeURIComponent(browser.cookies.get('connect.sid') ?? '');
  const id = cookie.slice(2, cookie.lastIndexOf('.')); // s:<id>.<signature>
  const key = defaultKeyGenerator(id);
  if (mode === 'string') return raw.pttl(Buffer.concat([Buffer.from(prefix), key]));
  const value = await raw.hgetBuffer(bucketKey(Buffer.from(prefix), defaultBucketOf(key, 65536), 2), key);
  return (decodeEnvelope(value as Buffer).expiresAt as number) - Date.now();
}

describe.each(['hash', 'string'] as const)('express-session (%s mode)', (mode) => {
  it('a request that loaded the session before the logout cannot save it back', async () => {
    const { browser } = await app(mode);
    await browser.request('/login', { method: 'POST' });
    expect((await browser.request('/me')).body).toEqual({ user: 'alice' });
    // tab 1 starts a slow request; tab 2 logs out while it runs
    const slow = browser.request('/cart-slowly', { method: 'POST' });
    await sleep(100);
    expect((await browser.request('/logout', { method: 'POST' })).status).toBe(200);
    expect((await slow).status).toBe(200); // its save was dropped, not an error page
    expect((await browser.request('/me')).body).toEqual({ user: null });
  });

  it('a touch follows the cookie when the app shortens it', async () => {
    const { browser, prefix } = await app(mode);
    await browser.request('/login', { method: 'POST' });
    expect(await remaining(mode, prefix, browser)).toBeGreaterThan(590_000);
    await browser.request('/shorter', { method: 'POST' });
    const left = await remaining(mode, prefix, browser);
    expect(left).toBeLessThanOrEqual(1500);
    expect(left).toBeGreaterThan(0);
    await sleep(1700);
    expect((await browser.request('/me')).body).toEqual({ user: null });
  });
});
