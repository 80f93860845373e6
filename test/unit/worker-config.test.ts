import { describe, expect, it } from 'vitest';
import { EnvConfigError, loadConfig } from '../../worker/src/worker/config.js';
import { describeTarget } from '../../worker/src/worker/redis-target.js';
import { redisOrigins } from '../../worker/src/worker/redis-watch.js';

const nodes = '10.0.0.1:7000, 10.0.0.2:7001';

describe('worker env: where Redis is', () => {
  it('defaults to one local server, the queue on the same one', () => {
    const c = loadConfig({});
    expect(c.redis).toEqual({ kind: 'url', url: 'redis://127.0.0.1:6379' });
    expect(c.queueRedis).toBe(c.redis);
  });

  it('REDIS_CLUSTER_NODES: a cluster for sessions and queue, with the default hash-tag queue prefix', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: nodes });
    expect(c.redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      auth: {},
    });
    expect(c.queueRedis).toBe(c.redis);
    expect(c.queue.prefix).toBe('{redisession}');
    expect(describeTarget(c.redis)).toBe('cluster 10.0.0.1:7000,10.0.0.2:7001');
  });

  it('REDIS_SENTINELS + REDIS_SENTINEL_MASTER: a master found through Sentinel', () => {
    const c = loadConfig({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_MASTER: 'mymaster' });
    expect(c.redis).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: '127.0.0.1', port: 26379 }],
      master: 'mymaster',
      auth: {},
    });
    expect(describeTarget(c.redis)).toBe('sentinel master "mymaster" via 127.0.0.1:26379');
  });

  it('REDIS_USERNAME/REDIS_PASSWORD go to every cluster node (and to the queue that follows)', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: nodes, REDIS_USERNAME: 'web', REDIS_PASSWORD: 's3cret' });
    expect(c.redis).toMatchObject({ kind: 'cluster', auth: { username: 'web', password: 's3cret' } });
    expect(c.queueRedis).toBe(c.redis);
    expect(describeTarget(c.redis)).not.toContain('s3cret');
    const s = loadConfig({
      REDIS_SENTINELS: nodes,
      REDIS_SENTINEL_MASTER: 'm',
      REDIS_PASSWORD: 'a',
      REDIS_SENTINEL_PASSWORD: 'b',
    });
    expect(s.redis).toMatchObject({ kind: 'sentinel', auth: { password: 'a' }, sentinelPassword: 'b' });
  });

  it('never shows a password in its messages', () => {
    expect(() => loadConfig({ REDIS_PASSWORD: 'x'.repeat(2000) })).toThrow(/REDIS_PASSWORD=\(hidden\)/);
  });

  it('QUEUE_REDIS_URL moves the queue off the cluster, where any prefix will do', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: nodes, QUEUE_REDIS_URL: 'redis://q:6379', QUEUE_PREFIX: 'plain' });
    expect(c.queueRedis).toEqual({ kind: 'url', url: 'redis://q:6379' });
    expect(c.queue.prefix).toBe('plain');
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: nodes, QUEUE_PREFIX: 'rsq' }, /QUEUE_PREFIX="rsq": expected a hash tag/],
    [{ REDIS_CLUSTER_NODES: nodes, QUEUE_PREFIX: '{}x' }, /QUEUE_PREFIX="\{\}x": expected a hash tag/],
    [{ REDIS_CLUSTER_NODES: '10.0.0.1:99999' }, /REDIS_CLUSTER_NODES="10.0.0.1:99999": expected a comma-separated/],
    [
      { REDIS_CLUSTER_NODES: nodes, REDIS_SENTINELS: nodes },
      /REDIS_CLUSTER_NODES and REDIS_SENTINELS are set together/,
    ],
    [{ REDIS_SENTINELS: nodes }, /REDIS_SENTINEL_MASTER=\(unset\)/],
    [{ REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS=\(unset\)/],
    [{ REDIS_SENTINELS: nodes, REDIS_SENTINEL_MASTER: 'bad name' }, /REDIS_SENTINEL_MASTER="bad name"/],
    [{ REDIS_PASSWORD: 'pw' }, /with REDIS_URL, put them in the URL/],
    [{ REDIS_SENTINEL_PASSWORD: 'pw' }, /REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS/],
  ])('refuses %o with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(EnvConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('worker env: sweeps', () => {
  it('CLEANUP_CALL_US sizes sweep script calls (100 µs unless set)', () => {
    expect(loadConfig({}).cleanup.callUs).toBe(100);
    expect(loadConfig({ CLEANUP_CALL_US: '250' }).cleanup.callUs).toBe(250);
    expect(() => loadConfig({ CLEANUP_CALL_US: '5' })).toThrow(
      /CLEANUP_CALL_US="5": expected an integer from 10 to 100000/,
    );
  });
});

describe('worker env: settings that would mean something else', () => {
  it('CLEANUP_TZ only with CLEANUP_CRON (an interval has no time zone)', () => {
    expect(() => loadConfig({ CLEANUP_EVERY: '1h', CLEANUP_TZ: 'UTC' })).toThrow(
      /CLEANUP_TZ="UTC" applies to CLEANUP_CRON only/,
    );
    expect(() => loadConfig({ CLEANUP_TZ: 'UTC' })).toThrow(EnvConfigError);
    expect(loadConfig({ CLEANUP_CRON: '0 3 * * *', CLEANUP_TZ: 'Europe/Paris' }).schedule).toMatchObject({
      cron: '0 3 * * *',
      tz: 'Europe/Paris',
      every: null,
    });
  });

  it('logs: pretty follows the terminal unless LOG_PRETTY says; Redis outages repeat once a minute', () => {
    expect(loadConfig({}).log).toEqual({ level: 'info', pretty: null, redisDownEvery: 60_000 });
    expect(loadConfig({ LOG_PRETTY: 'off', LOG_REDIS_DOWN_EVERY: '5s' }).log).toMatchObject({
      pretty: false,
      redisDownEvery: 5000,
    });
  });
});

describe("where each Redis address came from (for the worker's Redis-down lines)", () => {
  it('names the variable and the environment, .env, or the default', () => {
    expect(redisOrigins(loadConfig({}), {})).toEqual({
      sessions: { variable: 'REDIS_URL', from: 'the default: REDIS_URL is not set' },
      queue: { variable: 'REDIS_URL', from: 'the default: REDIS_URL is not set' },
    });
    const env = { REDIS_CLUSTER_NODES: '10.0.0.1:7000', QUEUE_REDIS_URL: 'redis://q:6379' };
    expect(redisOrigins(loadConfig(env), env, new Set(['QUEUE_REDIS_URL']))).toEqual({
      sessions: { variable: 'REDIS_CLUSTER_NODES', from: 'REDIS_CLUSTER_NODES in the environment' },
      queue: { variable: 'QUEUE_REDIS_URL', from: 'QUEUE_REDIS_URL in .env' },
    });
  });
});
