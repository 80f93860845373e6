import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExample } from '../helpers/examples.js';
import { startCluster, startSentinels, type TestCluster, type TestSentinels } from '../helpers/redis-cluster.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * The examples that are scripts (the store's API, named connections, one write per tick, a custom
 * compressor, Cluster and Sentinel connections), each run to its end as a process of its own
 * against real servers; what they print is what their comments promise.
 */

let redis: RedisServer;
let cluster: TestCluster;
let sentinels: TestSentinels;

beforeAll(async () => {
  [redis, cluster, sentinels] = await Promise.all([startRedisServer(), startCluster(3), startSentinels('mymaster')]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.destroy(), cluster?.destroy(), sentinels?.destroy()]);
});

async function run(file: string, env: Record<string, string> = { REDIS_URL: redis.url }): Promise<string[]> {
  const { code, stdout, stderr } = await runExample(file, env);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return stdout.trimEnd().split('\n');
}

describe('examples', () => {
  it('direct-api.ts: a session set, read, touched, listed, destroyed and cleared', async () => {
    const out = (await run('examples/direct-api.ts'))
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

  it('named-connections.ts: a named connection, and the error for an unknown name', async () => {
    expect(await run('examples/named-connections.ts')).toEqual([
      'true',
      'unknown Redis connection "typo"; known connections: default, sessions (register more with configureRedis)',
    ]);
  });

  it('coalesce-writes.ts: 64 saves on a client of your own', async () => {
    expect(await run('examples/coalesce-writes.ts')).toEqual(['64']);
  });

  it('custom-codec.ts: a session compressed with a compressor of your own reads back the same', async () => {
    expect(await run('examples/custom-codec.ts')).toEqual(['true']);
  });

  it('cluster.ts: a store on a Redis Cluster, from some of its nodes', async () => {
    const out = await run('examples/cluster.ts', { REDIS_CLUSTER_NODES: cluster.addresses.slice(0, 2).join(',') });
    expect(out).toEqual(['{ userId: 7 }']);
  });

  it('sentinel.ts: a store on the master Sentinel names', async () => {
    const out = await run('examples/sentinel.ts', {
      REDIS_SENTINELS: sentinels.addresses.join(','),
      REDIS_SENTINEL_MASTER: sentinels.masterName,
    });
    expect(out).toEqual(['{ userId: 7 }']);
  });
});
