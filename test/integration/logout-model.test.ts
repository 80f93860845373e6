import { Redis } from 'ioredis';
import { createSessionStore, type SessionStore } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { type Lane, laneRunner } from '../helpers/logout-model.js';
import { modelBudget, runModel } from '../helpers/logout-model-run.js';
import { forgetKeys } from '../helpers/model-keys.js';
import { testPrefix } from '../helpers/redis.js';
import { startRedisServer } from '../helpers/redis-server.js';

/*
 * The model check of log-outs on one Redis server (test/helpers/logout-model.ts), both modes,
 * with the legacy read-through on. LOGOUT_MODEL_RUNS=<n> runs n interleavings per mode instead of
 * the CI default; LOGOUT_MODEL_SEED=<seed> replays a run. LOGOUT_MODEL_TRACE=1 adds every operation of a violating run to its report.
 */

// a server of its own: sweeps SCAN the keyspace, which stays a few keys here
const server = await startRedisServer();
const redisUrl = () => server.url;
const opened: SessionStore[] = [];
const clients: Redis[] = [];
const raw = new Redis(redisUrl());

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  for (const c of clients) c.disconnect();
  raw.disconnect();
  await server.destroy();
});

async function lanes(mode: 'hash' | 'string', count: number): Promise<Lane[]> {
  const prefix = testPrefix(`model-${mode}`);
  const old = testPrefix(`model-old-${mode}`);
  const options = {
    mode,
    prefix,
    buckets: 4, // sessions share buckets: the in-line sweep and the sweep meet the others' writes
    inlineSweep: mode === 'hash' ? 1 : 0,
    userId: (s: Record<string, unknown>) => s.user as string | undefined,
    legacy: { layout: 'connect-redis' as const, prefix: old },
  };
  const direct = createSessionStore({ redis: redisUrl(), ...options });
  opened.push(direct);
  const out: Lane[] = [];
  for (let l = 0; l < count; l++) {
    const own = await Promise.all(
      [0, 1, 2].map(async () => {
        const client = new Redis(redisUrl());
        clients.push(client);
        await client.ping();
        const store = createSessionStore({ ...options, redis: client });
        opened.push(store);
        return { client, store };
      }),
    );
    out.push({
      stores: own.map((o) => o.store),
      clients: own.map((o) => o.client),
      direct,
      plantLegacy: async (sid, json) => {
        await raw.set(`${old}${sid}`, json, 'EX', 3600);
      },
      forget: (sids, users) => forgetKeys(raw, { mode, prefix, buckets: 4, legacyPrefix: old }, sids, users),
    });
  }
  return out;
}

describe.each(['hash', 'string'] as const)('model check of log-outs, one server (%s mode)', (mode) => {
  it('no interleaving lets a user observe a log-out undone, a lost or stale session, or an unindexed one', async () => {
    const result = await runModel((await lanes(mode, 12)).map(laneRunner), {
      label: `${mode}, one server`,
      withLegacy: true,
      runs: modelBudget(),
    });
    expect(result.violations).toEqual([]);
  }, 600_000);
});
