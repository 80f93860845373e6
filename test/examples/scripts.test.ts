import { afterAll, beforeAll, describe, type ExpectStatic, it } from 'vitest';
import { runExample } from '../helpers/examples.js';
import { startCluster, startSentinels, type TestCluster, type TestSentinels } from '../helpers/redis-cluster.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * The examples that are scripts (the store's API, named connections, one write per tick, a custom
 * compressor, Cluster and Sentinel connections), each run to its end as a process of its own
 * against real servers; what they print is what their comments promise.
 */

// started at once and awaited only by the tests that need them, so the others run meanwhile
let cluster: Promise<TestCluster>;
let sentinels: Promise<TestSentinels>;

beforeAll(() => {
  cluster = startCluster(3);
  sentinels = startSentinels('mymaster');
  // a failed start is reported by the test that awaits it
  cluster.catch(() => {});
  sentinels.catch(() => {});
});
afterAll(async () => {
  await Promise.allSettled([cluster.then((c) => c.destroy()), sentinels.then((s) => s.destroy())]);
}, 60_000);

/**
 * Runs an example to its end, against the servers `env` names or else a redis-server of its own
 * (the examples share their prefixes); it must print nothing on stderr and exit 0.
 */
async function run(expect: ExpectStatic, file: string, env?: Record<string, string>): Promise<string[]> {
  const own: RedisServer | null = env ? null : await startRedisServer();
  try {
    const { code, stdout, stderr } = await runExample(file, env ?? { REDIS_URL: (own as RedisServer).url });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    return stdout.trimEnd().split('\n');
  } finally {
    await own?.destroy();
  }
}

describe.concurrent('examples', () => {
  it('direct-api.ts: a session set, read, touched, listed, destroyed and cleared', async ({ expect }) => {
    const out = (await run(expect, 'examples/direct-api.ts'))
      .join('\n')
      .replace(/'[\w-]{32}'|^[\w-]{32}(?= )/gm, 'ID')
      .replace(/'\d{4}-\d\d-\d\dT[\d:.]+Z'/g, 'DATE');
    expect(out).toBe(
      [
        '{ cookie: { expires: DATE }, userId: 7 }',
        '1',
        '[ ID ]',
        '[',
        '  {',
        '    cookie: { expires: DATE },',
        '    userId: 7,',
        '    id: ID',
        '  }',
        ']',
        'ID { cookie: { expires: DATE }, userId: 7 }',
        'null',
      ].join('\n'),
    );
  });

  it('named-connections.ts: a named connection, and the error for an unknown name', async ({ expect }) => {
    expect(await run(expect, 'examples/named-connections.ts')).toEqual([
      'true',
      'unknown Redis connection "typo"; known connections: default, sessions (register more with configureRedis)',
    ]);
  });

  it('coalesce-writes.ts: 64 saves on a client of your own', async ({ expect }) => {
    expect(await run(expect, 'examples/coalesce-writes.ts')).toEqual(['64']);
  });

  it('custom-codec.ts: a session compressed with a compressor of your own reads back the same', async ({ expect }) => {
    expect(await run(expect, 'examples/custom-codec.ts')).toEqual(['true']);
  });

  it('cluster.ts: a store on a Redis Cluster, from some of its nodes', async ({ expect }) => {
    const { addresses } = await cluster;
    const out = await run(expect, 'examples/cluster.ts', {
      REDIS_CLUSTER_NODES: addresses.slice(0, 2).join(','),
    });
    expect(out).toEqual(['{ userId: 7 }']);
  });

  it('sentinel.ts: a store on the master Sentinel names', async ({ expect }) => {
    const { addresses, masterName } = await sentinels;
    const out = await run(expect, 'examples/sentinel.ts', {
      REDIS_SENTINELS: addresses.join(','),
      REDIS_SENTINEL_MASTER: masterName,
    });
    expect(out).toEqual(['{ userId: 7 }']);
  });
});
