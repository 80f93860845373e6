// Every store the benchmark compares, behind one shape: set / get / touch / close.
import { RedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import { createClient, RESP_TYPES } from 'redis';
import { coalesceWrites, createSessionStore } from '../../dist/index.js';

/** redisession as a user gets it from a URL: the client the library creates (coalesced writes, CLIENT_DEFAULTS). */
export function redisession(name, options) {
  return {
    name,
    async open(server) {
      const store = createSessionStore({ redis: server.url, ...options });
      return {
        set: (id, s) => store.set(id, s),
        get: (id) => store.get(id),
        touch: (id, s) => store.touch(id, s),
        close: () => store.close(),
      };
    },
  };
}

/** The reference every ratio is taken against. */
export const CONNECT_REDIS = 'connect-redis 9 (node-redis 5)';

export const CONTENDERS = [
  {
    name: CONNECT_REDIS,
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

/**
 * The bare clients doing GET / SET PX / PEXPIRE on a same-size value (Buffer replies, as the store
 * reads them): the ceiling, with and without ioredis write coalescing, and node-redis.
 */
function rawIoredis(name, coalesced) {
  return {
    name,
    async open(server, valueBytes) {
      const made = new Redis(server.url);
      const client = coalesced ? coalesceWrites(made) : made;
      const value = Buffer.alloc(valueBytes, 0x61);
      return {
        set: (id) => client.set(`raw:${id}`, value, 'PX', 86_400_000),
        get: (id) => client.getBuffer(`raw:${id}`),
        touch: (id) => client.pexpire(`raw:${id}`, 86_400_000),
        close: () => client.quit(),
      };
    },
  };
}

export const RAW_CLIENTS = [
  rawIoredis('raw ioredis', false),
  rawIoredis('raw ioredis + coalesceWrites', true),
  {
    name: 'raw node-redis 5',
    async open(server, valueBytes) {
      const base = createClient({ url: server.url });
      await base.connect();
      const client = base.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
      const value = Buffer.alloc(valueBytes, 0x61);
      return {
        set: (id) => client.set(`raw:${id}`, value, { expiration: { type: 'PX', value: 86_400_000 } }),
        get: (id) => client.get(`raw:${id}`),
        touch: (id) => client.pExpire(`raw:${id}`, 86_400_000),
        close: () => base.quit(),
      };
    },
  },
];
