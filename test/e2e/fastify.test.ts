import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify, { type FastifyInstance } from 'fastify';
import { RedisessionStore } from 'redisession/fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { CookieJar } from '../helpers/http.js';
import { dropPrefix, rawClient, redisUrl, sleep, testPrefix } from '../helpers/redis.js';

declare module 'fastify' {
  interface Session {
    user?: string;
  }
}

const apps: FastifyInstance[] = [];
const prefixes: string[] = [];
const raw = rawClient();
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  for (const p of prefixes) await dropPrefix(raw, p);
});

async function app(maxAge: number): Promise<CookieJar> {
  const prefix = testPrefix('fastify');
  prefixes.push(prefix);
  const store = new RedisessionStore({ redis: redisUrl(), prefix });
  const f = Fastify();
  f.addHook('onClose', () => store.close());
  await f.register(fastifyCookie);
  await f.register(fastifySession, {
    secret: 'a secret that is at least thirty-two characters long',
    store,
    saveUninitialized: false,
    cookie: { secure: false, maxAge },
  });
  f.post('/login', async (req) => {
    req.session.user = 'bob';
    return { ok: true };
  });
  f.get('/me', async (req) => ({ user: req.session.user ?? null }));
  f.post('/logout', async (req) => {
    await req.session.destroy();
    return { ok: true };
  });
  await f.listen({ port: 0, host: '127.0.0.1' });
  apps.push(f);
  const { port } = f.server.address() as { port: number };
  return new CookieJar(`http://127.0.0.1:${port}`);
}

describe('@fastify/session with RedisessionStore', () => {
  it('logs in, keeps the session, and logs out', async () => {
    const browser = await app(60_000);
    expect((await browser.request('/me')).body).toEqual({ user: null });
    await browser.request('/login', { method: 'POST' });
    expect(browser.cookies.has('sessionId')).toBe(true);
    expect((await browser.request('/me')).body).toEqual({ user: 'bob' });
    const stolen = new Map(browser.cookies);
    await browser.request('/logout', { method: 'POST' });
    const replay = new CookieJar(browser.base);
    for (const [k, v] of stolen) replay.cookies.set(k, v);
    expect((await replay.request('/me')).body).toEqual({ user: null });
  });

  it('starts fresh once the session expired', async () => {
    const browser = await app(1000);
    await browser.request('/login', { method: 'POST' });
    expect((await browser.request('/me')).body).toEqual({ user: 'bob' });
    await sleep(1300);
    expect((await browser.request('/me')).body).toEqual({ user: null });
  });
});
