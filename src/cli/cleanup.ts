import { Job, type Queue, type QueueEvents } from 'bullmq';
import type { CommandModule } from 'yargs';
import { quietQuit } from '../redis/connections.js';
import { definedOnly } from '../store/options.js';
import { SWEEP_STRATEGIES, type SweepStrategy } from '../sweep/plan.js';
import { LIMITS } from '../worker/config.js';
import type { ShardProgress } from '../worker/processors.js';
import {
  connectQueue,
  JOB,
  KEEP,
  openQueue,
  openQueueEvents,
  type SweepOverrides,
  type SweepSummary,
  type TriggerData,
  type TriggerResult,
} from '../worker/queue.js';
import { boundedInt, configFromEnv } from './config.js';
import { progressView, sumShards } from './progress.js';
import { closeEvents, failureReason, finished, lastEventId, noticeWhileWaiting, quietErrors } from './wait.js';

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
): Promise<SweepSummary | TriggerResult> {
  const bySweep = new Map<string, Map<string, ShardProgress>>();
  let sweepId: string | null = null;
  let total: number | null = null;
  const view = progressView();
  const taken = noticeWhileWaiting(queue, `sweep request ${trigger.id}`, 'request');
  events.on('progress', ({ jobId, data }) => {
    const p = data as unknown as ShardProgress;
    if (typeof p !== 'object' || p === null || typeof p.sweepId !== 'string') return;
    const shards = bySweep.get(p.sweepId) ?? new Map<string, ShardProgress>();
    shards.set(jobId, p);
    bySweep.set(p.sweepId, shards);
    if (p.sweepId === sweepId) view.update(sumShards(shards, total));
  });
  try {
    const started = (await finished(queue, events, trigger, 'sweep request')) as TriggerResult;
    taken();
    if (!started.sweepJobId) return started;
    sweepId = started.sweepJobId;
    total = started.bucketsTotal;
    if (!json)
      process.stderr.write(`sweep ${sweepId} started: ${started.shards} shard${started.shards === 1 ? '' : 's'}\n`);
    const parent = await Job.fromId(queue, sweepId);
    if (!parent) throw new Error(`sweep ${sweepId} disappeared from the queue`);
    try {
      return { ...((await finished(queue, events, parent, 'sweep')) as SweepSummary), jobId: sweepId } as SweepSummary;
    } catch (err) {
      if (/disappeared from the queue/.test((err as Error).message)) throw err;
      throw new Error(await failureReason(queue, err));
    }
  } finally {
    taken();
    view.stop();
  }
}

/** `redisession cleanup`: ask the workers for a sweep, and with --wait follow it to its summary. */
export const cleanupCommand: CommandModule<object, CleanupArgs> = {
  command: 'cleanup',
  describe: 'Ask the workers for a sweep of expired hash-mode sessions (of the store they are configured for)',
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
    const overrides: SweepOverrides = definedOnly({
      strategy: args.strategy,
      shards: args.shards as number | undefined,
      batch: args.batch as number | undefined,
      sample: args.sample as number | undefined,
      dryRun: args.dryRun,
    });
    const connection = await connectQueue(config);
    const queue = openQueue(config, connection);
    // listen from the newest event before asking, so that none about this request is missed
    const events = args.wait ? openQueueEvents(config, connection, await lastEventId(queue)) : null;
    quietErrors(queue, events);
    try {
      await events?.waitUntilReady();
      const data: TriggerData = { origin: 'cli', ...overrides };
      const trigger = await queue.add(JOB.trigger, data, {
        removeOnComplete: KEEP.completed,
        removeOnFail: KEEP.failed,
      });
      if (!events) {
        const queued = { requestId: trigger.id, queued: true, ...overrides };
        process.stdout.write(
          args.json ? `${JSON.stringify(queued)}\n` : `sweep requested (job ${trigger.id}); a worker will run it\n`,
        );
        return;
      }
      let result: SweepSummary | TriggerResult;
      try {
        result = await follow(queue, events, trigger, args.json ?? false);
      } catch (err) {
        const error = (err as Error).message;
        if (args.json) process.stdout.write(`${JSON.stringify({ failed: true, error })}\n`);
        process.stderr.write(`redisession: sweep failed: ${error}\n`);
        process.exitCode = 1;
        return;
      }
      if ('skipped' in result && result.skipped) {
        const skipped = {
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
        process.stdout.write(
          `sweep ${summary.jobId} ${summary.dryRun ? '(dry run) ' : ''}done in ${summary.durationMs} ms: ` +
            `${summary.buckets} buckets, ${summary.scanned} fields scanned, ${summary.deleted} expired sessions ` +
            `${summary.dryRun ? 'found' : 'deleted'} (${summary.shards} shard${summary.shards === 1 ? '' : 's'})\n`,
        );
      }
    } finally {
      if (events) await closeEvents(events);
      await queue.close();
      await quietQuit(connection);
    }
  },
};
