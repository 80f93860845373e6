import type { FlowProducer } from 'bullmq';
import { ConfigError, type LegacyLayout } from 'redisession';
import { definedOnly, LEGACY_LAYOUTS, resolveOptions } from 'redisession/internal';
import type { CommandModule } from 'yargs';
import { LIMITS } from '../worker/config.js';
import {
  enqueueMigration,
  type MigrateProgress,
  type MigrateRequest,
  type MigrateSummary,
} from '../worker/migrate-jobs.js';
import { describeStore } from '../worker/served-store.js';
import { boundedInt, configFromEnv, prefixFlag, prefixFlagNamed, UsageError, withSessions } from './config.js';
import { flowResult, reportFailure, showShardProgress, withQueue } from './follow.js';
import { type MigrateLayoutArgs, migrateTarget } from './migrate-layout.js';
import { progressView, sumShards } from './progress.js';
import { noticeWhileWaiting, noWorkerFor } from './wait.js';

interface MigrateArgs {
  from: LegacyLayout;
  fromPrefix?: string;
  fromBuckets?: number;
  to?: 'hash' | 'string';
  prefix?: string;
  buckets?: number;
  userField?: string;
  shards?: number;
  batch?: number;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
}

/** `redisession migrate`: move every session of a legacy layout into the store, as worker jobs. */
export const migrateCommand: CommandModule<object, MigrateArgs> = {
  command: 'migrate',
  describe:
    'Move sessions from connect-redis or the other redisession mode/prefix into the store (run by the workers; ' +
    'the web tier keeps working, with the store\'s "legacy" option set to the same source)',
  builder: (y) =>
    y
      .option('from', { choices: LEGACY_LAYOUTS, demandOption: true, describe: 'layout the sessions are in now' })
      .option('from-prefix', {
        type: 'string',
        describe: "their prefix (default 'sess:' for connect-redis; required for string and hash)",
        coerce: prefixFlagNamed('from-prefix'),
      })
      .option('from-buckets', {
        type: 'string',
        describe: '--from hash: its bucket count (default 65536)',
        coerce: boundedInt('from-buckets', ...LIMITS.buckets),
      })
      .option('to', { choices: ['hash', 'string'] as const, describe: 'target mode (default SESSION_MODE)' })
      .option('prefix', { type: 'string', describe: 'target prefix (default SESSION_PREFIX)', coerce: prefixFlag })
      .option('buckets', {
        type: 'string',
        describe: 'target bucket count (default SESSION_BUCKETS)',
        coerce: boundedInt('buckets', ...LIMITS.buckets),
      })
      .option('user-field', {
        type: 'string',
        describe: "dotted path of the user id in a session (e.g. 'passport.user'): fills the user index",
      })
      .option('shards', {
        type: 'string',
        describe: `parallel shard jobs for --from hash, ${LIMITS.shards.join('..')} (default CLEANUP_SHARDS)`,
        coerce: boundedInt('shards', ...LIMITS.shards),
      })
      .option('batch', {
        type: 'string',
        describe: `legacy buckets or keys per round trip, ${LIMITS.batch.join('..')} (default CLEANUP_BATCH)`,
        coerce: boundedInt('batch', ...LIMITS.batch),
      })
      .option('dry-run', { type: 'boolean', describe: 'count what would move, move nothing' })
      .option('wait', { type: 'boolean', describe: 'follow the migration and print its summary' })
      .option('json', { type: 'boolean', describe: 'print the result as one JSON object on stdout' }),
  handler: async (args) => {
    const env = configFromEnv();
    const fromPrefix = args.fromPrefix ?? (args.from === 'connect-redis' ? 'sess:' : undefined);
    if (fromPrefix === undefined) {
      throw new UsageError(`--from ${args.from} needs --from-prefix (the old store's prefix)`);
    }
    if (env.redis.kind === 'cluster') {
      throw new Error(
        'migrate moves each session with one script over its old and new keys: it needs a single Redis node, not a cluster',
      );
    }
    // the target's layout from its manifest, the source's from its own (see migrate-layout.ts)
    const target = await withSessions(env, (sessions) =>
      migrateTarget(
        env,
        definedOnly({
          from: args.from,
          fromPrefix,
          fromBuckets: args.fromBuckets as number | undefined,
          to: args.to,
          prefix: args.prefix,
          buckets: args.buckets as number | undefined,
        }) as MigrateLayoutArgs,
        sessions,
      ),
    );
    const { config } = target;
    if (!args.json) for (const note of target.notes) process.stderr.write(`note: ${note}\n`);
    const req: MigrateRequest = {
      store: target.store,
      keyScheme: target.keyScheme,
      idSecret: target.idSecret,
      from: args.from,
      fromPrefix,
      fromBuckets: target.fromBuckets,
      to: target.to,
      prefix: target.store.prefix,
      buckets: target.buckets,
      userField: args.userField ?? null,
      shards: (args.shards as number | undefined) ?? config.cleanup.shards,
      batch: (args.batch as number | undefined) ?? config.cleanup.batch,
      dryRun: args.dryRun ?? false,
    };
    // the same checks the store makes (a source that is the store itself, bad prefixes), before queueing
    try {
      resolveOptions({
        mode: req.to,
        prefix: req.prefix,
        buckets: req.buckets,
        legacy: { layout: req.from, prefix: req.fromPrefix, buckets: req.fromBuckets },
      });
    } catch (err) {
      throw err instanceof ConfigError ? new UsageError(err.message) : err;
    }
    await withQueue(config, { follow: args.wait ?? false, flows: true }, async ({ queue, flows, events }) => {
      const node = await enqueueMigration(config, flows as FlowProducer, req);
      const id = node.job.id as string;
      if (!events) {
        const queued = { migrationId: id, queued: true, store: req.store, shards: node.children?.length ?? 0 };
        process.stdout.write(
          args.json ? `${JSON.stringify(queued)}\n` : `migration queued (job ${id}); a worker will run it\n`,
        );
        return;
      }
      if (!args.json) process.stderr.write(`migration ${id} started: ${node.children?.length ?? 0} shard(s)\n`);
      const unserved = await noWorkerFor(queue, req.store);
      if (unserved) process.stderr.write(`${unserved}\n`);
      const view = progressView({
        title: 'migrate',
        unit: req.from === 'hash' ? 'buckets' : 'legacy keys',
        counted: 'moved',
      });
      const started = noticeWhileWaiting(queue, `migration ${id}`, 'migration', req.prefix);
      showShardProgress<MigrateProgress>(events, view, {
        flowOf: (p) => p.migrationId,
        totals: (latest) =>
          sumShards(latest, req.from === 'hash' ? req.fromBuckets : null, ({ checkpoint: c }) => ({
            bucketsDone: c.done,
            scanned: c.scanned,
            deleted: c.moved,
          })),
        onEvent: started,
      }).follow(id);
      let summary: MigrateSummary;
      try {
        summary = (await flowResult(queue, events, id, 'migration')) as MigrateSummary;
      } catch (err) {
        reportFailure('migration', err, args.json ?? false);
        return;
      } finally {
        started();
        view.stop();
      }
      if (args.json) process.stdout.write(`${JSON.stringify({ migrationId: id, ...summary })}\n`);
      else {
        const into = summary.store ? ` into ${describeStore(summary.store)}` : '';
        const foreign = summary.foreign ?? 0;
        const left =
          foreign > 0 ? `; ${foreign} foreign key${foreign === 1 ? '' : 's'} under the old prefix left alone` : '';
        process.stdout.write(
          `migration ${id}${into} ${summary.dryRun ? '(dry run) ' : ''}done in ${summary.durationMs} ms: ` +
            (summary.scanned === 0
              ? 'nothing left to move'
              : `${summary.scanned} legacy sessions, ${summary.moved} ${summary.dryRun ? 'to move' : 'moved'}, ` +
                `${summary.newer} already newer in the new layout, ${summary.skipped} skipped (expired or unreadable)`) +
            `${left}\n`,
        );
      }
    });
  },
};
