import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningExample, startExample } from '../helpers/examples.js';
import { CookieJar } from '../helpers/http.js';
import { dropPrefix, keysUnder } from '../helpers/redis.js';
import { freePort, type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * The README's quick starts (examples/express.ts, fastify.ts, koa.ts), each run as a process of its
 * own against a private redis-server: a browser's views are counted in a session kept in Redis,
 * under the example's prefix, and survive a restart of the app.
 */

const SECRET = 'a session secret of at least thirty-two characters';
let redis: RedisServer;
let raw: Redis;
const running: RunningExample[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  raw.disconnect();
  await redis.destroy();
});

async function start(framework: string): Promise<RunningExample> {
  const app = await startExample(`examples/${framework}.ts`, {
    REDIS_URL: redis.url,
    SESSION_SECRET: SECRET,
    PORT: String(await freePort()),
  });
  running.push(app);
  return app;
}

describe.each(['express', 'fastify', 'koa'])('examples/%s.ts', (framework) => {
  it('keeps a visitor session in Redis, across a restart of the app', async () => {
    await dropPrefix(raw, 'myapp:'); // each framework starts from nothing
    let app = await start(framework);
    const visitor = new CookieJar(app.base);
    expect((await visitor.request('/')).body).toEqual({ views: 1 });
    expect((await visitor.request('/')).body).toEqual({ views: 2 });
    expect((await new CookieJar(app.base).request('/')).body).toEqual({ views: 1 }); // another visitor
    expect((await keysUnder(raw, 'myapp:')).length).toBeGreaterThan(0);

    await app.stop();
    app = await start(framework);
    const again = new CookieJar(app.base);
    for (const [name, value] of visitor.cookies) again.cookies.set(name, value);
    expect((await again.request('/')).body).toEqual({ views: 3 });
    await app.stop();
  });
});
