import { createSessionStore, LayoutMismatchError, type RedisClient } from 'redisession';
import { hashStats, quietQuit, withOrigin } from 'redisession/internal';
import type { CommandModule } from 'yargs';
import { LIMITS, type WorkerConfig } from '../worker/config.js';
import { describeTarget, type RedisTarget } from '../worker/redis-target.js';
import { differenceMessage, resolveStore } from '../worker/served-store.js';
import { boundedInt, configFromEnv, prefixFlag, redisUrlFlag, watchedSessionClient } from './config.js';

interface StatsArgs {
  redis?: string;
  prefix?: string;
  mode?: 'hash' | 'string';
  buckets?: number;
  sample?: number;
  exact?: boolean;
  json?: boolean;
}

class StatsArgumentError extends Error {}

/**
 * The layout to measure: the store's manifest, or the flags and SESSION_* when it has none (as the
 * worker and the doctor resolve it: resolveStore). A flag that contradicts the manifest is refused;
 * SESSION_* that differs is noted on stderr.
 */
async function statsLayout(
  config: WorkerConfig,
  prefix: string,
  client: RedisClient,
  args: StatsArgs,
): Promise<{ mode: 'hash' | 'string'; buckets: number; customKeys: boolean; source: string; manifest: string | null }> {
  const served = await resolveStore(config, client, prefix);
  const manifest = served.manifest;
  if (!manifest) {
    const mode = args.mode ?? config.session.mode;
    return {
      mode,
      buckets: args.buckets ?? config.session.buckets,
      customKeys: false,
      source: args.mode !== undefined || args.buckets !== undefined ? 'flags' : 'environment',
      manifest: null,
    };
  }
  const shown = JSON.stringify(prefix);
  if (args.mode !== undefined && args.mode !== manifest.mode) {
    throw new StatsArgumentError(
      `--mode ${args.mode} contradicts store ${shown}: its manifest records ${manifest.mode} mode`,
    );
  }
  if (manifest.mode === 'hash' && args.buckets !== undefined && args.buckets !== manifest.buckets) {
    throw new StatsArgumentError(
      `--buckets ${args.buckets} contradicts store ${shown}: its manifest records ${manifest.buckets} buckets`,
    );
  }
  if (args.prefix === undefined && args.mode === undefined && args.buckets === undefined) {
    for (const d of served.differences) process.stderr.write(`note: ${differenceMessage(d)}\n`);
  }
  return {
    mode: manifest.mode,
    buckets: manifest.buckets ?? config.session.buckets,
    customKeys: manifest.keyScheme === 'custom',
    source: 'manifest',
    manifest: manifest.id,
  };
}

/** `redisession stats`: how many sessions, how they are stored, and what it costs. */
export const statsCommand: CommandModule<object, StatsArgs> = {
  command: 'stats',
  describe:
    'Report sessions, buckets in use, encodings, bytes per session and expired-but-unswept sessions ' +
    '(exact up to 20000 buckets in use; beyond that sampled, unless --exact)',
  builder: (y) =>
    y
      .option('redis', { type: 'string', describe: 'redis:// URL (default REDIS_URL)', coerce: redisUrlFlag })
      .option('prefix', { type: 'string', describe: 'store prefix (default SESSION_PREFIX)', coerce: prefixFlag })
      .option('mode', {
        choices: ['hash', 'string'] as const,
        describe: "store mode (default: the store's manifest, else SESSION_MODE)",
      })
      .option('buckets', {
        type: 'string',
        describe: "bucket count (default: the store's manifest, else SESSION_BUCKETS)",
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
    const prefix = args.prefix ?? config.session.prefix;
    const target: RedisTarget = args.redis ? { kind: 'url', url: args.redis } : config.redis;
    const { client, lastError } = watchedSessionClient(target);
    try {
      const s = await statsLayout(config, prefix, client, args);
      let report: object;
      if (s.mode === 'hash') {
        report = await hashStats(
          { client, prefix: Buffer.from(prefix), buckets: s.buckets },
          { sample: args.sample ?? 256, exact: args.exact ?? false },
        );
      } else {
        const store = createSessionStore(
          withOrigin(
            // a custom keyGenerator makes keys of any shape: count every session value under the prefix
            {
              redis: client,
              mode: 'string' as const,
              prefix,
              ...(s.customKeys ? { keyGenerator: (id: string) => id } : {}),
            },
            { checkLayout: false }, // read-only: the layout was read above, never recorded from here
          ),
        );
        report = { mode: 'string', exact: true, sessions: await store.length() };
      }
      const out = { prefix, layout: s.source, manifest: s.manifest, ...report };
      if (args.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        for (const [k, v] of Object.entries(out)) {
          process.stdout.write(`${k.padEnd(18)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`);
        }
      }
    } catch (err) {
      if (err instanceof StatsArgumentError || err instanceof LayoutMismatchError) throw err;
      const cause = lastError()?.message ?? (err as Error).message;
      throw new Error(`cannot read stats from Redis at ${describeTarget(target)}: ${cause}`);
    } finally {
      await quietQuit(client);
    }
  },
};
