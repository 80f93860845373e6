import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  ConfigError,
  closeRedisConnections,
  configureRedis,
  createSessionStore,
  getRedis,
  UnknownConnectionError,
} from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';

const raw = rawClient();
const prefix = testPrefix('conn');
afterAll(async () => {
  await dropPrefix(raw, prefix);
  await closeRedisConnections();
});

describe('named connections', () => {
  it('hands out one shared client per name, created on first use', async () => {
    const { port } = new URL(redisUrl());
    configureRedis({ sessions: redisUrl(), other: { port: Number(port), host: '127.0.0.1', db: 1 } });
    const a = getRedis('sessions');
    expect(getRedis('sessions')).toBe(a);
    expect(getRedis('other')).not.toBe(a);
    expect(await a.ping()).toBe('PONG');
    expect(await getRedis('other').ping()).toBe('PONG');
  });

  it('names every known connection when asked for an unknown one', () => {
    configureRedis({ sessions: redisUrl() });
    expect(() => getRedis('sesions')).toThrow(UnknownConnectionError);
    expect(() => getRedis('sesions')).toThrow(/known connections: default, sessions/);
  });

  it('lets a store use a named connection, a URL, options, or a client, and sees the same data', async () => {
    const { port } = new URL(redisUrl());
    configureRedis({ sessions: redisUrl() });
    const client = new Redis(redisUrl());
    const stores = [
      createSessionStore({ redis: 'sessions', prefix }),
      createSessionStore({ redis: redisUrl(), prefix }),
      createSessionStore({ redis: { port: Number(port), host: '127.0.0.1' }, prefix }),
      createSessionStore({ redis: client, prefix }),
    ];
    const id = randomBytes(24).toString('base64url');
    await stores[0]?.set(id, { who: 'named' });
    for (const s of stores) expect(await s.get(id)).toEqual({ who: 'named' });
    expect(stores[0]?.redis).toBe(getRedis('sessions'));
    await Promise.all(stores.map((s) => s.close()));
    expect(client.status).toBe('ready'); // a client passed in is the caller's to close
    expect(getRedis('sessions').status).toBe('ready'); // shared clients survive a store's close
    await client.quit();
  });

  it('reconfiguring a name gives a new client on next use', () => {
    configureRedis({ swap: redisUrl() });
    const before = getRedis('swap');
    configureRedis({ swap: `${redisUrl()}/2` });
    expect(getRedis('swap')).not.toBe(before);
  });

  it('rejects connection specs it cannot use', () => {
    expect(() => configureRedis({ bad: 'localhost:6379' })).toThrow(ConfigError);
    expect(() => configureRedis({ bad: 42 as never })).toThrow(ConfigError);
  });
});

describe('clients and stores over time', () => {
  it('a store made before configureRedis follows the name to its new client', async () => {
    configureRedis({ late: `redis://127.0.0.1:${await deadPort()}` });
    const store = createSessionStore({ redis: 'late', prefix });
    configureRedis({ late: redisUrl() }); // e.g. in a test's beforeAll, after the store was built
    const id = randomBytes(24).toString('base64url');
    await store.set(id, { ok: true });
    expect(await store.get(id)).toEqual({ ok: true });
    expect(store.redis).toBe(getRedis('late'));
    await store.close();
  });

  it('refuses an ioredis client with keyPrefix, which SCAN patterns would not see', () => {
    const prefixed = new Redis(redisUrl(), { keyPrefix: 'app:', lazyConnect: true });
    expect(() => createSessionStore({ redis: prefixed })).toThrow(/keyPrefix "app:": not supported/);
    expect(() => createSessionStore({ redis: { keyPrefix: 'app:', lazyConnect: true } })).toThrow(/keyPrefix/);
    prefixed.disconnect();
  });

  it("a store's own client is watched from the start: a Redis that is down before the first call is logged once, not left to ioredis", async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (_o: object, m?: string) => warnings.push(m ?? ''), error() {} };
    const store = createSessionStore({ redis: `redis://127.0.0.1:${await deadPort()}`, logger });
    // (no call, and not even store.redis, which starts the watching too: a web app starting while
    // Redis is down; ioredis prints "Unhandled error event" on every retry of an unwatched client)
    const deadline = Date.now() + 3000;
    while (warnings.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(warnings).toEqual(['redisession: Redis connection error']);
    await store.close();
  });

  it('many stores on one client add one listener pair, not one per store', async () => {
    const client = new Redis(redisUrl());
    const before = client.listenerCount('error');
    const stores = Array.from({ length: 20 }, (_, i) =>
      createSessionStore({ redis: client, prefix: `${prefix}${i}:` }),
    );
    await Promise.all(stores.map((s) => s.get('some-id'))); // a store starts watching its client on first use
    expect(client.listenerCount('error')).toBe(before + 1);
    await Promise.all(stores.map((s) => s.close()));
    await client.quit();
  });
});

async function deadPort(): Promise<number> {
  const { freePort } = await import('../helpers/redis-server.js');
  return freePort();
}
