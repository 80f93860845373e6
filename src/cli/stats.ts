import type { CommandModule } from 'yargs';
import { hashStats } from '../inspect/stats.js';
import { quietQuit } from '../redis/connections.js';
import { definedOnly } from '../store/options.js';
import { createSessionStore } from '../store/session-store.js';
import { LIMITS } from '../worker/config.js';
import { describeTarget, type RedisTarget, sessionClient } from '../worker/redis-target.js';
import { boundedInt, configFromEnv } from './config.js';

interface StatsArgs {
  redis?: string;
  prefix?: string;
  mode?: 'hash' | 'string';
  buckets?: number;
  sample?: number;
  exact?: boolean;
  json?: boolean;
}

/** `redisession stats`: how many sessions, how they are stored, and what it costs. */
export const statsCommand: CommandModule<object, StatsArgs> = {
  command: 'stats',
  describe:
    'Report sessions, buckets in use, encodings, bytes per session and expired-but-unswept sessions ' +
    '(exact up to 20000 buckets in use; beyond that sampled, unless --exact)',
  builder: (y) =>
    y
      .option('redis', { type: 'string', describe: 'redis:// URL (default REDIS_URL)' })
      .option('prefix', { type: 'string', describe: 'store prefix (default SESSION_PREFIX)' })
      .option('mode', { choices: ['hash', 'string'] as const, describe: 'store mode (default SESSION_MODE)' })
      .option('buckets', {
        type: 'string',
        describe: 'bucket count (default SESSION_BUCKETS)',
        coerce: boundedInt('buckets', ...LIMITS.buckets),
      })
      .option('sample', {
        type: 'string',
        describe: 'buckets to sample when there are too many to count (default 256)',
        coerce: boundedInt('sample', ...LIMITS.sample),
      })
      .option('exact', { type: 'boolean', describe: 'visit every bucket / key instead of sampling' })
      .option('json', { type: 'boolean', describe: 'print one JSON object' }),
  handler: async (args) => {
    const config = configFromEnv();
    const s = { ...config.session, ...definedOnly({ prefix: args.prefix, mode: args.mode, buckets: args.buckets }) };
    const target: RedisTarget = args.redis ? { kind: 'url', url: args.redis } : config.redis;
    const client = sessionClient(target);
    let lastError: Error | null = null;
    client.on('error', (err: Error) => {
      lastError = err;
    });
    try {
      let report: object;
      if (s.mode === 'hash') {
        report = await hashStats(
          { client, prefix: Buffer.from(s.prefix), buckets: s.buckets },
          { sample: args.sample ?? 256, exact: args.exact ?? false },
        );
      } else {
        const store = createSessionStore({ redis: client, mode: 'string', prefix: s.prefix });
        report = { mode: 'string', exact: true, sessions: await store.length() };
      }
      const out = { prefix: s.prefix, ...report };
      if (args.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        for (const [k, v] of Object.entries(out)) {
          process.stdout.write(`${k.padEnd(18)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`);
        }
      }
    } catch (err) {
      const cause = (lastError as Error | null)?.message ?? (err as Error).message;
      throw new Error(`cannot read stats from Redis at ${describeTarget(target)}: ${cause}`);
    } finally {
      await quietQuit(client);
    }
  },
};
