import type { CommandModule } from 'yargs';
import { hashStats } from '../inspect/stats.js';
import { createRedisClient, quietQuit } from '../redis/connections.js';
import { createSessionStore } from '../store/session-store.js';
import { configFromEnv, definedOnly } from './config.js';

interface StatsArgs {
  redis?: string;
  prefix?: string;
  mode?: 'hash' | 'string';
  buckets?: number;
  sample: number;
  exact?: boolean;
  json?: boolean;
}

/** `redisession stats`: how many sessions, how they are stored, and what it costs. */
export const statsCommand: CommandModule<object, StatsArgs> = {
  command: 'stats',
  describe: 'Report sessions, buckets, encodings and bytes per session (sampled unless --exact)',
  builder: (y) =>
    y
      .option('redis', { type: 'string', describe: 'redis:// URL (default REDIS_URL)' })
      .option('prefix', { type: 'string', describe: 'store prefix (default SESSION_PREFIX)' })
      .option('mode', { choices: ['hash', 'string'] as const, describe: 'store mode (default SESSION_MODE)' })
      .option('buckets', { type: 'number', describe: 'bucket count (default SESSION_BUCKETS)' })
      .option('sample', { type: 'number', default: 256, describe: 'buckets to sample in hash mode' })
      .option('exact', { type: 'boolean', describe: 'visit every bucket / key instead of sampling' })
      .option('json', { type: 'boolean', describe: 'print one JSON object' }),
  handler: async (args) => {
    const config = configFromEnv();
    const s = { ...config.session, ...definedOnly({ prefix: args.prefix, mode: args.mode, buckets: args.buckets }) };
    const client = createRedisClient(args.redis ?? config.redisUrl);
    client.on('error', () => {}); // a failed command below reports the problem
    try {
      let report: object;
      if (s.mode === 'hash') {
        report = await hashStats(
          { client, prefix: Buffer.from(s.prefix), buckets: s.buckets },
          { sample: args.sample, exact: args.exact ?? false },
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
    } finally {
      await quietQuit(client);
    }
  },
};
