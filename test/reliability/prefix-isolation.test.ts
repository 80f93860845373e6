import { Redis } from 'ioredis';
import { createSessionStore } from 'redisession';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../src/codec/envelope.js';
import { manifestKey } from '../../src/keys/manifest-key.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { sleep } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * sweep, clear, length and stats never read or write a key outside the store's prefix, and never
 * change foreign data that happens to sit under it. Other apps' keys live in the same db; some
 * share the prefix's first bytes, some would match it if its glob characters were not escaped,
 * and hashes hold values that look exactly like our expired sessions. A private server, so that
 * MONITOR sees every command, including those our Lua scripts run.
 */

const prefix = 'app:sess[1]*?:';
const expiredLookalike = encodeEnvelope(
  { serializer: 0, compressor: 0, expiresAt: Date.now() - 60_000 },
  Buffer.from('{}'),
);
const bucketShaped = Buffer.from([0x00, 0x00, 0x07]); // what a bucket key adds to a prefix (65536 buckets)

/** Other apps' keys: every name contains FOREIGN, so MONITOR can tell if any command names one. */
const outside: Array<[Buffer, 'string' | 'hash']> = [
  [Buffer.from('FOREIGN:user:1'), 'string'],
  [Buffer.from('FOREIGN:sessions'), 'hash'],
  [Buffer.from('app:sessFOREIGN'), 'string'], // shares the prefix's first bytes
  [Buffer.concat([Buffer.from('app:sess[1]*?FOREIGN'), bucketShaped]), 'hash'], // all but the last byte
  [Buffer.concat([Buffer.from('app:sess1xy:FOREIGN'), bucketShaped]), 'hash'], // matches the unescaped glob
];
/** Foreign data under our prefix: it may be looked at, never changed. */
const inside: Array<[Buffer, 'string' | 'hash']> = [
  [Buffer.from(`${prefix}config`), 'string'],
  [Buffer.from(`${prefix}archive`), 'hash'],
];

let server: RedisServer;
let raw: Redis;
let monitor: Redis;
const commands: string[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  raw = new Redis(server.url);
  monitor = await new Redis(server.url).monitor();
  monitor.on('monitor', (_time: string, args: string[]) => commands.push(args.join(' ')));
});
afterAll(async () => {
  monitor.disconnect();
  raw.disconnect();
  await server.destroy();
});

async function plantForeign(): Promise<Map<string, Buffer>> {
  const dumps = new Map<string, Buffer>();
  for (const [key, type] of [...outside, ...inside]) {
    if (type === 'string') await raw.set(key, expiredLookalike);
    else await raw.hset(key, 'f1', expiredLookalike, 'f2', Buffer.concat([Buffer.from([0xa3]), Buffer.alloc(7)]));
    dumps.set(key.toString('latin1'), (await raw.dumpBuffer(key)) as Buffer);
  }
  return dumps;
}

/** The commands MONITOR saw between two markers sent by `raw`. */
async function watched(run: () => Promise<void>): Promise<string[]> {
  const tag = `${Date.now()}`;
  await raw.echo(`PHASE-START-${tag}`);
  await run();
  await raw.echo(`PHASE-END-${tag}`);
  // MONITOR's stream lags behind the replies: wait until the end marker has come through it
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(20)) {
    if (commands.some((c) => c.includes(`PHASE-END-${tag}`))) break;
  }
  const from = commands.findIndex((c) => c.includes(`PHASE-START-${tag}`));
  const to = commands.findIndex((c) => c.includes(`PHASE-END-${tag}`));
  expect(from).toBeGreaterThanOrEqual(0);
  expect(to).toBeGreaterThan(from);
  return commands.slice(from + 1, to);
}

describe('prefix isolation', () => {
  it.each(['hash', 'string'] as const)(
    '%s mode: sweep, length, stats and clear stay inside the prefix',
    async (mode) => {
      assertBuilt();
      const dumps = await plantForeign();
      // 4 buckets, live sessions written first: the expired ones stay as fields for the sweep to find
      const store = createSessionStore({ redis: server.url, prefix, mode, buckets: 4 });
      const ids = Array.from({ length: 20 }, (_, i) => `session-id-number-${String(i).padStart(6, '0')}-x`);
      for (const [i, id] of ids.entries()) await store.set(id, { i }, { ttlMs: i >= 15 ? 1 : 60_000 });
      await sleep(10);

      const seen = await watched(async () => {
        expect(await store.length()).toBe(15);
        const full = await store.sweep({ graceMs: 0 });
        const existing = await store.sweep({ graceMs: 0, strategy: 'existing' });
        if (mode === 'hash') {
          expect(full.deleted).toBe(5); // ours only: the look-alikes are not in our buckets
          expect(existing.deleted).toBe(0);
        }
        const stats = await runCli(
          ['stats', '--prefix', prefix, '--mode', mode, '--buckets', '4', '--exact', '--json'],
          {
            REDIS_URL: server.url,
          },
        );
        expect(stats.code, stats.stderr).toBe(0);
        expect(JSON.parse(stats.stdout)).toMatchObject({ sessions: 15 });
        await store.clear();
        expect(await store.length()).toBe(0);
      });
      await store.close();
      // the store's recorded layout stays (clear removes sessions only); the next run uses the other mode
      expect(await raw.exists(manifestKey(Buffer.from(prefix)))).toBe(1);
      await raw.del(manifestKey(Buffer.from(prefix)));

      expect(seen.length).toBeGreaterThan(20);
      expect(seen.filter((c) => c.includes('FOREIGN'))).toEqual([]); // never named a foreign key
      for (const [key, dump] of dumps) expect(await raw.dumpBuffer(Buffer.from(key, 'latin1')), key).toEqual(dump);
    },
  );
});
