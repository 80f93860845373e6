import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningExample, startExample } from '../helpers/examples.js';
import { CookieJar } from '../helpers/http.js';
import { dropPrefix, keysUnder } from '../helpers/redis.js';
import { freePort, type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * The examples the docs show for a task, each run as a process of its own against a private
 * redis-server: log out everywhere (docs/security.md), moving an app from connect-redis without
 * logging anyone out (docs/moving-from-connect-redis.md), and the cleanup queue mounted in
 * bull-board (docs/operations.md).
 */

const SECRET = 'a session secret of at least thirty-two characters';
let redis: RedisServer;
let raw: Redis;
const running: RunningExample[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  raw = new Redis(redis.url);
});
beforeEach(async () => {
  // the examples share their prefixes: each test starts from nothing
  for (const prefix of ['myapp:', 'rs:']) await dropPrefix(raw, prefix);
});
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  raw.disconnect();
  await redis.destroy();
});

async function start(file: string, env: Record<string, string> = {}): Promise<RunningExample> {
  const app = await startExample(file, {
    REDIS_URL: redis.url,
    SESSION_SECRET: SECRET,
    PORT: String(await freePort()),
    ...env,
  });
  running.push(app);
  return app;
}

const post = { method: 'POST' };

describe('examples/logout-everywhere.ts', () => {
  it("lists a user's devices and logs every one of them out, and nobody else", async () => {
    const app = await start('examples/logout-everywhere.ts');
    const phone = new CookieJar(app.base);
    const laptop = new CookieJar(app.base);
    const bob = new CookieJar(app.base);
    await phone.request('/login/alice', post);
    await laptop.request('/login/alice', post);
    await bob.request('/login/bob', post);

    const devices = (await phone.request('/devices')).body as Array<{ id: string; expiresAt: number }>;
    expect(devices).toHaveLength(2);
    expect(devices.every((d) => typeof d.id === 'string' && d.expiresAt > Date.now())).toBe(true);

    expect((await laptop.request('/logout-everywhere', post)).body).toEqual({ ended: 2 });
    expect((await phone.request('/me')).body).toEqual({ user: null });
    expect((await laptop.request('/me')).body).toEqual({ user: null });
    expect((await bob.request('/me')).body).toEqual({ user: 'bob' });
    expect((await phone.request('/devices')).status).toBe(401);
    await app.stop();
  });
});

describe('examples/from-connect-redis', () => {
  it('keeps a user logged in when the store changes from connect-redis to redisession', async () => {
    let app = await start('examples/from-connect-redis/before.ts');
    const alice = new CookieJar(app.base);
    await alice.request('/login/alice', post);
    expect((await alice.request('/me')).body).toEqual({ user: 'alice' });
    const [stored] = await keysUnder(raw, 'myapp:');
    expect(JSON.parse((await raw.get(stored as Buffer)) ?? '')).toMatchObject({ user: 'alice' }); // connect-redis's JSON
    await app.stop();

    app = await start('examples/from-connect-redis/after.ts');
    const again = new CookieJar(app.base);
    for (const [name, value] of alice.cookies) again.cookies.set(name, value);
    expect((await again.request('/me')).body).toEqual({ user: 'alice' });
    // moved on that read: the connect-redis key is gone, the session is in redisession's layout
    expect(await keysUnder(raw, 'myapp:')).toEqual([]);
    expect((await keysUnder(raw, 'rs:')).length).toBe(1);
    expect((await again.request('/me')).body).toEqual({ user: 'alice' });
    await app.stop();
  });
});

describe('examples/dashboard.ts', () => {
  it('serves bull-board with the cleanup queue, behind its admin check', async () => {
    const app = await start('examples/dashboard.ts', { ADMIN_TOKEN: 'let-me-in' });
    const admin = { headers: { authorization: 'Bearer let-me-in' } };
    expect((await fetch(`${app.base}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${app.base}/admin/queues`, admin)).status).toBe(200);
    const api = await fetch(`${app.base}/admin/queues/api/queues?activeQueue=redisession-cleanup`, admin);
    const { queues } = (await api.json()) as { queues: Array<{ name: string }> };
    expect(queues.map((q) => q.name)).toEqual(['redisession-cleanup']); // the queue of the store rs:
    await app.stop();
  });
});
