// Every store the benchmark compares, behind one shape: set / get / touch / close.
import { RedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { createSessionStore } from '../../dist/index.js';

// --autopipeline: ioredis batches the commands of one event-loop tick into one write, as
// node-redis always does; an experiment for the performance work, not the library's default yet.
const clientOptions = process.argv.includes('--autopipeline') ? { enableAutoPipelining: true } : {};

export function redisession(name, options, extraClientOptions = {}) {
  return {
    name,
    async open(server) {
      const client = new Redis(server.url, { ...clientOptions, ...extraClientOptions });
      const store = createSessionStore({ redis: client, ...options });
      return {
        set: (id, s) => store.set(id, s),
        get: (id) => store.get(id),
        touch: (id, s) => store.touch(id, s),
        close: async () => {
          await store.close();
          await client.quit();
        },
      };
    },
  };
}

export const CONTENDERS = [
  {
    name: 'connect-redis 9 (node-redis)',
    async open(server) {
      const client = createClient({ url: server.url });
      await client.connect();
      const store = new RedisStore({ client });
      return {
        set: (id, s) => store.set(id, s),
        get: (id) => store.get(id),
        touch: (id, s) => store.touch(id, s),
        close: () => client.quit(),
      };
    },
  },
  redisession('redisession string (defaults)', { mode: 'string', prefix: 'rs1:' }),
  redisession("redisession string, serializer 'json'", { mode: 'string', serializer: 'json', prefix: 'rs2:' }),
  redisession('redisession hash (defaults: 65536 buckets)', { mode: 'hash', prefix: 'rs3:' }),
  redisession("redisession hash, serializer 'json'", { mode: 'hash', serializer: 'json', prefix: 'rs4:' }),
  // throughput only: ioredis writing the commands of one tick together, as node-redis does
  {
    ...redisession(
      'redisession hash, ioredis enableAutoPipelining',
      { mode: 'hash', prefix: 'rs7:' },
      { enableAutoPipelining: true },
    ),
    throughputOnly: true,
  },
  // memory only: how the bucket count plays at small populations
  {
    ...redisession('redisession hash, buckets 4096', { mode: 'hash', buckets: 4096, prefix: 'rs5:' }),
    memoryOnly: true,
  },
  {
    ...redisession('redisession hash, compression none', { mode: 'hash', compression: 'none', prefix: 'rs6:' }),
    memoryOnly: true,
    largeOnly: true,
  },
];

/** The ceiling for throughput: ioredis doing the bare command on a same-size value. */
export const RAW = {
  name: 'raw ioredis GET/SET (ceiling)',
  async open(server, valueBytes) {
    const client = new Redis(server.url, clientOptions);
    const value = Buffer.alloc(valueBytes, 0x61);
    return {
      set: (id) => client.set(`raw:${id}`, value, 'PX', 86_400_000),
      get: (id) => client.getBuffer(`raw:${id}`),
      touch: (id) => client.pexpire(`raw:${id}`, 86_400_000),
      close: () => client.quit(),
    };
  },
};

/**
 * The same with binary keys, as redisession sends them: ioredis builds a command with a Buffer
 * argument differently (and more slowly) than an all-string one.
 */
export const RAW_BINARY = {
  name: 'raw ioredis, binary keys',
  async open(server, valueBytes) {
    const client = new Redis(server.url, clientOptions);
    const value = Buffer.alloc(valueBytes, 0x61);
    const key = (id) => Buffer.concat([Buffer.of(0x72, 0x3a, 0x03), Buffer.from(id, 'base64url')]);
    return {
      set: (id) => client.set(key(id), value, 'PX', 86_400_000),
      get: (id) => client.getBuffer(key(id)),
      touch: (id) => client.pexpire(key(id), 86_400_000),
      close: () => client.quit(),
    };
  },
};
