import { Redis } from 'ioredis';
import { createClient, createCluster, createSentinel } from 'redis';
import { ConfigError, configureRedis, createSessionStore, runSweep } from 'redisession';
import { RedisessionStore as ExpressStore } from 'redisession/express';
import { RedisessionStore as FastifyStore } from 'redisession/fastify';
import { koaStore } from 'redisession/koa';
import { openCleanupQueue } from 'redisession-worker';
import { afterAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../helpers/redis.js';

/*
 * Every place that takes a Redis client or connection options refuses, at once and by name, what
 * would otherwise connect somewhere else (ioredis takes any object as options and ignores what it
 * does not know: a node-redis client used to mean "127.0.0.1:6379").
 */

const { port } = new URL(redisUrl());
const nodeRedis = createClient({ url: `${redisUrl()}/3` });
const nodeCluster = createCluster({ rootNodes: [{ url: redisUrl() }] });
const nodeSentinel = createSentinel({ name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: 26379 }] });
afterAll(async () => {
  await nodeRedis.close?.().catch(() => {});
});

/** What goes wrong, and what the message must say about it. */
const wrong: Array<[string, unknown, RegExp]> = [
  [
    'a node-redis client',
    nodeRedis,
    new RegExp(
      `node-redis client \\(createClient\\(\\) from the "redis" package, pointing at redis://127\\.0\\.0\\.1:${port}/3\\); redisession talks to Redis through ioredis.*'redis://127\\.0\\.0\\.1:${port}/3'.*new Redis\\(url\\)`,
    ),
  ],
  ['a node-redis cluster', nodeCluster, /node-redis cluster.*\{ cluster: \[\{ host, port \}/],
  ['a node-redis sentinel', nodeSentinel, /node-redis sentinel client.*sentinels: \[\{ host, port \}.*name/],
  ['a promise of a client', Promise.resolve(new Map()), /a Promise: give the client itself/],
  ['another class', new Map(), /an instance of Map, which is not an ioredis client/],
  [
    'node-redis options',
    { url: redisUrl(), database: 2 },
    /keys "url", "database" that ioredis does not know and would silently ignore.*"url": give the URL itself.*"database": ioredis calls it "db"/,
  ],
  ['options with a typo', { host: '127.0.0.1', prot: 6380 }, /key "prot" that ioredis does not know/],
  ['a port that is not one', { host: '127.0.0.1', port: '6380' }, /"port" is not a port number/],
  ['a cluster without nodes', { cluster: [] }, /"cluster" must be a non-empty array of \{ host, port \}/],
  ['a cluster with a bad node', { cluster: ['127.0.0.1'] }, /"cluster" must be a non-empty array.*"127\.0\.0\.1"/],
  [
    'cluster options beside "cluster"',
    { cluster: ['127.0.0.1:7000'], redisOptions: { password: 'x' } },
    /"redisOptions" beside "cluster".*options\.redisOptions/,
  ],
  [
    'a cluster option ioredis does not know',
    { cluster: ['127.0.0.1:7000'], options: { scaleRead: 'slave' } },
    /cluster options with key "scaleRead"/,
  ],
  [
    'a node option ioredis does not know',
    { cluster: ['127.0.0.1:7000'], options: { redisOptions: { pasword: 'x' } } },
    /options\.redisOptions with key "pasword"/,
  ],
  [
    'sentinels without a master name',
    { sentinels: [{ host: '127.0.0.1', port: 26379 }] },
    /no "name": give the master name/,
  ],
  ['a master name without sentinels', { name: 'mymaster' }, /"name" .* but no "sentinels"/],
  ['empty sentinels', { sentinels: [], name: 'mymaster' }, /"sentinels" is not a non-empty array/],
  [
    'a sentinel that is not host:port',
    { sentinels: ['127.0.0.1:26379'], name: 'm' },
    /a sentinel that is not \{ host, port \}/,
  ],
];

describe.each([
  ['createSessionStore({ redis })', (v: unknown) => createSessionStore({ redis: v as never })],
  ['createSessionStore({ client })', (v: unknown) => createSessionStore({ client: v as never })],
  ['new RedisessionStore({ client }) (express)', (v: unknown) => new ExpressStore({ client: v as never })],
  ['new RedisessionStore({ redis }) (fastify)', (v: unknown) => new FastifyStore({ redis: v as never })],
  ['koaStore({ client })', (v: unknown) => koaStore({ client: v as never })],
  ['configureRedis({ name })', (v: unknown) => configureRedis({ sessions: v as never })],
])('%s refuses what would reach another Redis', (_where, make) => {
  it.each(wrong)('%s', (_what, value, message) => {
    expect(() => make(value)).toThrow(ConfigError);
    expect(() => make(value)).toThrow(message);
  });
});

describe('the messages name the setting', () => {
  it.each([
    [() => createSessionStore({ client: nodeRedis as never }), /^option "client": got a node-redis client/],
    [() => createSessionStore({ redis: { prot: 1 } as never }), /^option "redis": got ioredis options with key "prot"/],
    [
      () => configureRedis({ sessions: nodeRedis as never }),
      /^configureRedis: connection "sessions": got a node-redis/,
    ],
    [() => new ExpressStore({ client: 42 as never }), /^option "client": got number 42; expected a connection name/],
  ])('%#', (make, message) => {
    expect(make).toThrow(message);
  });

  it('never shows a password that was in the node-redis URL', () => {
    const secret = createClient({ url: 'redis://app:s3cret-pw@127.0.0.1:6390/1' });
    expect(() => createSessionStore({ client: secret as never })).toThrow(/redis:\/\/127\.0\.0\.1:6390\/1/);
    try {
      createSessionStore({ client: secret as never });
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cret');
    }
  });
});

describe('client and redis are one option', () => {
  it('refuses both at once, even naming the same server', () => {
    expect(() => createSessionStore({ redis: redisUrl(), client: redisUrl() })).toThrow(
      /"redis" and "client" are two names for the same connection: give one/,
    );
  });

  it('takes an ioredis client, a URL or options as `client`, and uses it', async () => {
    const client = new Redis(redisUrl());
    const stores = [
      createSessionStore({ client, prefix: 'test:client-option:' }),
      createSessionStore({ client: redisUrl(), prefix: 'test:client-option:' }),
      createSessionStore({ client: { host: '127.0.0.1', port: Number(port) }, prefix: 'test:client-option:' }),
    ];
    expect(stores[0]?.redis).toBe(client);
    await stores[0]?.set('client-option-1', { ok: 1 });
    for (const s of stores) expect(await s.get('client-option-1')).toEqual({ ok: 1 });
    await stores[0]?.clear();
    await Promise.all(stores.map((s) => s.close()));
    await client.quit();
  });
});

describe('where only a client will do', () => {
  it('openCleanupQueue({ connection }) refuses a node-redis client, options, and unknown keys', () => {
    const env = { REDIS_URL: redisUrl() };
    expect(() => openCleanupQueue({ env, connection: nodeRedis as never })).toThrow(
      /^openCleanupQueue: "connection": got a node-redis client/,
    );
    expect(() => openCleanupQueue({ env, connection: { host: '127.0.0.1' } as never })).toThrow(
      /got a plain object, not a client; expected an ioredis client/,
    );
    expect(() => openCleanupQueue({ env, conection: new Redis({ lazyConnect: true }) } as never)).toThrow(
      /unknown option "conection"; known options: env, connection/,
    );
    expect(() => openCleanupQueue({ env: { REDIS_SENTINELS: '127.0.0.1:26379' } })).toThrow(/REDIS_SENTINEL_MASTER/);
  });

  it('runSweep refuses a node-redis client before touching anything', async () => {
    await expect(runSweep({ client: nodeRedis as never, prefix: Buffer.from('x:'), buckets: 16 })).rejects.toThrow(
      /^runSweep: "client": got a node-redis client/,
    );
  });

  it("the legacy option reads through the store's own connection and takes none of its own", () => {
    expect(() =>
      createSessionStore({ legacy: { layout: 'connect-redis', client: nodeRedis } as never, redis: redisUrl() }),
    ).toThrow(/option "legacy": unknown field "client"; known: layout, prefix, buckets, serializer/);
  });
});

describe('adapters given { store }', () => {
  it('refuse options beside it, which the store would silently ignore', () => {
    const store = createSessionStore({ redis: redisUrl() });
    expect(() => new ExpressStore({ store, prefix: 'other:' } as never)).toThrow(
      /\{ store \} takes no other options \(got "prefix"\)/,
    );
    expect(() => koaStore({ store, client: nodeRedis } as never)).toThrow(/takes no other options \(got "client"\)/);
    void store.close();
  });

  it('refuse a store that is not a redisession store (a connect-redis store, say)', () => {
    expect(() => new FastifyStore({ store: { get() {}, set() {} } } as never)).toThrow(
      /"store" must be a store from createSessionStore \(it has no touch, destroy, length, clear\)/,
    );
  });
});
