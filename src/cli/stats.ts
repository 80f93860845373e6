import type { CommandModule } from 'yargs';
import { createSessionStore } from '../store/session-store.js';

interface StatsArgs {
  redis: string;
  prefix: string;
  mode: 'hash' | 'string';
  buckets: number;
}

/** `redisession stats`: how many live sessions a store holds (walks the prefix with SCAN). */
export const statsCommand: CommandModule<object, StatsArgs> = {
  command: 'stats',
  describe: 'Count the live sessions under a prefix',
  builder: (y) =>
    y
      .option('redis', { type: 'string', default: 'redis://127.0.0.1:6379', describe: 'redis:// URL or socket path' })
      .option('prefix', { type: 'string', default: 'rs:', describe: 'the store prefix' })
      .option('mode', { choices: ['hash', 'string'] as const, default: 'hash' as const, describe: 'the store mode' })
      .option('buckets', { type: 'number', default: 65536, describe: 'bucket count (hash mode)' }),
  handler: async (args) => {
    const store = createSessionStore({
      redis: args.redis,
      prefix: args.prefix,
      mode: args.mode,
      buckets: args.buckets,
    });
    try {
      const sessions = await store.length();
      process.stdout.write(`${JSON.stringify({ prefix: args.prefix, mode: args.mode, sessions })}\n`);
    } finally {
      await store.close();
    }
  },
};
