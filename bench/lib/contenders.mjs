// Every store the benchmark compares, behind one shape: set / get / touch / close.
import { RedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { createSessionStore } from '../../dist/index.js';

// --autopipeline: ioredis batches the commands of one event-loop tick into one write, as
// node-redis always does; an experiment for the performance work, not the library's default yet.
const clientOptions = process.argv.includes('--autopipeline') ? { enableAutoPipelining: true } : {};

function redisession(name, options) {
  return {
    name,
    async open(server) {
      const client = new Redis(server.url, clientOptions);
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
  redisession('redisession string', { mode: 'string', prefix: 'rs1:' }),
  redisession("redisession string, 'compact'", { mode: 'string', serializer: 'compact', prefix: 'rs2:' }),
  redisession('redisession hash', { mode: 'hash', prefix: 'rs3:' }),
  redisession("redisession hash, 'compact'", { mode: 'hash', serializer: 'compact', prefix: 'rs4:' }),
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
