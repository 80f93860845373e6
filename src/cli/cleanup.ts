import { Job, type Queue, type QueueEvents } from 'bullmq';
import type { CommandModule } from 'yargs';
import { quietQuit } from '../redis/connections.js';
import { readManifest } from '../store/manifest.js';
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
import { describeStore, type StoreRef, storeOfWorker } from '../worker/served-store.js';
import { boundedInt, configFromEnv, withSessions } from './config.js';
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
  store: StoreRef,
): Promise<SweepSummary | TriggerResult> {
  const bySweep = new Map<string, Map<string, ShardProgress>>();
  let sweepId: string | null = null;
  let total: number | null = null;
  const view = progressView();
  const taken = noticeWhileWaiting(queue, `sweep request ${trigger.id}`, 'request', store.prefix);
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

/**
 * Why nobody will take a request for this store now, or null: no worker on the queue at all, or only
 * workers of other stores (they refuse it). Unknown when CLIENT LIST is not allowed.
 */
export async function noWorkerFor(queue: Queue, store: StoreRef): Promise<string | null> {
  let workers: Array<{ rawname?: string }>;
  try {
    workers = (await queue.getWorkers()) as Array<{ rawname?: string }>;
  } catch {
    return null;
  }
  const wanted = `SESSION_PREFIX=${JSON.stringify(store.prefix)}`;
  if (workers.length === 0) {
    return (
      `waiting: no worker is connected to queue ${queue.name}: the request for store ${JSON.stringify(store.prefix)} waits ` +
      `until one starts (\`redisession worker\` with ${wanted} and the same QUEUE_NAME/QUEUE_PREFIX); Ctrl-C ` +
      'stops waiting, the request stays queued'
    );
  }
  const stores = workers.map((w) => storeOfWorker(w.rawname));
  if (stores.every((s) => s !== null && s.prefix !== store.prefix)) {
    const theirs = [...new Set(stores.map((s) => JSON.stringify(s?.prefix)))].join(', ');
    return `note: the workers on queue ${queue.name} serve store ${theirs}, not ${JSON.stringify(store.prefix)}: they will refuse the request`;
  }
  return null;
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
    const connection = await connectQueue(config);
    const queue = openQueue(config, connection);
    // listen from the newest event before asking, so that none about this request is missed
    const events = args.wait ? openQueueEvents(config, connection, await lastEventId(queue)) : null;
    quietErrors(queue, events);
    try {
      await events?.waitUntilReady(); // listen before asking, or early events are missed
      const data: TriggerData = { origin: 'cli', store, ...overrides };
      const trigger = await queue.add(JOB.trigger, data, {
        removeOnComplete: KEEP.completed,
        removeOnFail: KEEP.failed,
      });
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
        const error = (err as Error).message;
        if (args.json) process.stdout.write(`${JSON.stringify({ failed: true, error })}\n`);
        process.stderr.write(`redisession: sweep failed: ${error}\n`);
        process.exitCode = 1;
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
    } finally {
      if (events) await closeEvents(events);
      await queue.close();
      await quietQuit(connection);
    }
  },
};
