import type { Job, Queue, QueueEvents } from 'bullmq';
import { SWEEP_STRATEGIES, type SweepStrategy } from 'redisession';
import { definedOnly, readManifest } from 'redisession/internal';
import type { CommandModule } from 'yargs';
import { LIMITS } from '../worker/config.js';
import { KEPT } from '../worker/flows.js';
import type { ShardProgress } from '../worker/processors.js';
import { JOB, type SweepOverrides, type SweepSummary, type TriggerData, type TriggerResult } from '../worker/queue.js';
import { describeStore, type StoreRef } from '../worker/served-store.js';
import { boundedInt, configFromEnv, withSessions } from './config.js';
import { flowResult, reportFailure, showShardProgress, withQueue } from './follow.js';
import { progressView, sumShards } from './progress.js';
import { finished, noticeWhileWaiting, noWorkerFor } from './wait.js';

interface CleanupArgs {
  strategy?: SweepStrategy;
  shards?: number;
  batch?: number;
  sample?: number;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
}

/**
 * Follows a sweep: waits for a worker to take the request, then for the sweep it started, showing
 * its shards' progress. Returns the summary, or throws with the reason the sweep failed.
 */
async function follow(
  queue: Queue,
  events: QueueEvents,
  trigger: Job,
  json: boolean,
  store: StoreRef,
): Promise<SweepSummary | TriggerResult> {
  let total: number | null = null;
  const view = progressView();
  const taken = noticeWhileWaiting(queue, `sweep request ${trigger.id}`, 'request', store.prefix);
  const shown = showShardProgress<ShardProgress>(events, view, {
    flowOf: (p) => p.sweepId,
    totals: (latest) => sumShards(latest, total, (p) => p),
  });
  try {
    const started = (await finished(queue, events, trigger, 'sweep request')) as TriggerResult;
    taken();
    if (!started.sweepJobId) return started;
    const sweepId = started.sweepJobId;
    total = started.bucketsTotal;
    shown.follow(sweepId);
    if (!json)
      process.stderr.write(`sweep ${sweepId} started: ${started.shards} shard${started.shards === 1 ? '' : 's'}\n`);
    return { ...((await flowResult(queue, events, sweepId, 'sweep')) as SweepSummary), jobId: sweepId } as SweepSummary;
  } finally {
    taken();
    view.stop();
  }
}

/** `redisession cleanup`: ask the workers for a sweep, and with --wait follow it to its summary. */
export const cleanupCommand: CommandModule<object, CleanupArgs> = {
  command: 'cleanup',
  describe:
    'Ask the workers of the store (SESSION_PREFIX) for a sweep of its expired hash-mode sessions; the layout ' +
    "comes from the store's manifest",
  builder: (y) =>
    y
      .option('strategy', {
        choices: SWEEP_STRATEGIES,
        describe: 'full: every bucket; sample: N random; existing: SCAN',
      })
      .option('shards', {
        type: 'string',
        describe: `parallel shard jobs, ${LIMITS.shards.join('..')} (default: the worker's CLEANUP_SHARDS)`,
        coerce: boundedInt('shards', ...LIMITS.shards),
      })
      .option('batch', {
        type: 'string',
        describe: `buckets per round trip, ${LIMITS.batch.join('..')} (default: CLEANUP_BATCH)`,
        coerce: boundedInt('batch', ...LIMITS.batch),
      })
      .option('sample', {
        type: 'string',
        describe: 'buckets for --strategy sample (default: CLEANUP_SAMPLE)',
        coerce: boundedInt('sample', ...LIMITS.sample),
      })
      .option('dry-run', { type: 'boolean', describe: 'count expired sessions, delete nothing' })
      .option('wait', { type: 'boolean', describe: 'follow the sweep and print its summary' })
      .option('json', { type: 'boolean', describe: 'print the result as one JSON object on stdout' }),
  handler: async (args) => {
    const config = configFromEnv();
    // the store the request is for: a worker of another store refuses it (see served-store.ts)
    const store: StoreRef = {
      prefix: config.session.prefix,
      id: await withSessions(config, async (s) => (await readManifest(s, Buffer.from(config.session.prefix)))?.id)
        .catch(() => null) // the worker reads it anyway; the id only tells two Redis servers apart
        .then((id) => id ?? null),
    };
    const overrides: SweepOverrides = definedOnly({
      strategy: args.strategy,
      shards: args.shards as number | undefined,
      batch: args.batch as number | undefined,
      sample: args.sample as number | undefined,
      dryRun: args.dryRun,
    });
    await withQueue(config, { follow: args.wait ?? false }, async ({ queue, events }) => {
      const data: TriggerData = { origin: 'cli', store, ...overrides };
      const trigger = await queue.add(JOB.trigger, data, KEPT);
      if (!events) {
        const queued = { requestId: trigger.id, queued: true, store, queue: queue.name, ...overrides };
        process.stdout.write(
          args.json
            ? `${JSON.stringify(queued)}\n`
            : `sweep of store ${JSON.stringify(store.prefix)} requested (job ${trigger.id} on queue ${queue.name}); ` +
                'a worker of that store will run it\n',
        );
        return;
      }
      const unserved = await noWorkerFor(queue, store);
      if (unserved) process.stderr.write(`${unserved}\n`);
      let result: SweepSummary | TriggerResult;
      try {
        result = await follow(queue, events, trigger, args.json ?? false, store);
      } catch (err) {
        reportFailure('sweep', err, args.json ?? false);
        return;
      }
      if ('skipped' in result && result.skipped) {
        const skipped = {
          store: result.store,
          skipped: true,
          reason: result.skipped,
          buckets: 0,
          scanned: 0,
          deleted: 0,
          durationMs: 0,
          shards: 0,
        };
        process.stdout.write(args.json ? `${JSON.stringify(skipped)}\n` : `no sweep: ${result.skipped}\n`);
        return;
      }
      const summary = result as SweepSummary & { jobId: string };
      if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        const on = summary.store ? ` on ${describeStore(summary.store)}` : '';
        process.stdout.write(
          `sweep ${summary.jobId}${on} ${summary.dryRun ? '(dry run) ' : ''}done in ${summary.durationMs} ms: ` +
            `${summary.buckets} buckets, ${summary.scanned} fields scanned, ${summary.deleted} expired sessions ` +
            `${summary.dryRun ? 'found' : 'deleted'} (${summary.shards} shard${summary.shards === 1 ? '' : 's'})\n`,
        );
      }
    });
  },
};
