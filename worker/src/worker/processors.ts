import { type FlowProducer, type Job, type Processor, type Queue, UnrecoverableError } from 'bullmq';
import { type RedisClient, runSweep, type SweepProgress } from 'redisession';
import { definedOnly, pruneUserIndexes, readManifest, type SweepCounts } from 'redisession/internal';
import type { WorkerConfig } from './config.js';
import { parkShard, savedProgress, sumShards } from './flows.js';
import type { Logger } from './logger.js';
import { MIGRATE_JOB, type MigrateShardData, processMigrateShard, summarizeMigration } from './migrate-jobs.js';
import {
  defaultRequest,
  enqueueSweep,
  JOB,
  plannedBuckets,
  type ShardData,
  type SummaryData,
  type SweepRequest,
  type SweepSummary,
  type TriggerData,
  type TriggerResult,
} from './queue.js';
import { type StoreSummary, servedFor, storeSummary } from './served-store.js';

/** What a shard reports with job.updateProgress after every batch; the checkpoint resumes a retry. */
export interface ShardProgress extends SweepProgress {
  /** The sweep (parent job) this shard belongs to: lets a follower pick its shards' events. */
  sweepId: string | null;
  elapsedMs: number;
}

export type ShardResult = SweepCounts;

interface Deps {
  config: WorkerConfig;
  /** The Redis holding the sessions. */
  sessions: RedisClient;
  queue: Queue;
  flows: FlowProducer;
  logger: Logger;
}

async function processShard(deps: Deps, job: Job<ShardData>, token: string | undefined, signal?: AbortSignal) {
  const d = job.data;
  const saved = savedProgress<ShardProgress>(job);
  const sweepId = job.parent?.id ?? null;
  const log = deps.logger.child({
    sweepId,
    jobId: job.id,
    shard: d.shard,
    shards: d.shards,
    attempt: job.attemptsMade + 1,
  });
  log.info(
    { prefix: d.prefix, range: d.range, strategy: d.strategy, dryRun: d.dryRun, resumeAt: saved?.bucketsDone ?? 0 },
    saved ? 'shard resumed' : 'shard started',
  );
  // planned from SESSION_* when the manifest could not be read: never sweep another layout than the store's
  const manifest = await readManifest(deps.sessions, Buffer.from(d.prefix, 'utf8'));
  if (manifest && (manifest.mode !== 'hash' || manifest.buckets !== d.buckets)) {
    throw new UnrecoverableError(
      `sweep planned for ${d.buckets} buckets, but the store's manifest records ${manifest.mode} mode` +
        `${manifest.mode === 'hash' ? `, ${manifest.buckets} buckets` : ''}: not swept; ask for the sweep again`,
    );
  }
  const started = Date.now();
  const elapsedBefore = saved?.elapsedMs ?? 0;
  const result = await runSweep(
    { client: deps.sessions, prefix: Buffer.from(d.prefix, 'utf8'), buckets: d.buckets },
    {
      strategy: d.strategy,
      sample: d.sample,
      batch: d.batch,
      graceMs: d.graceMs,
      dryRun: d.dryRun,
      callBudgetUs: deps.config.cleanup.callUs,
      range: d.range,
      ...(d.indexes ? { indexes: d.indexes } : {}),
      ...(saved ? { checkpoint: saved.checkpoint } : {}),
      ...(signal ? { signal } : {}),
      onProgress: async (p) => {
        const progress: ShardProgress = {
          sweepId,
          bucketsDone: p.bucketsDone,
          bucketsTotal: p.bucketsTotal,
          scanned: p.scanned,
          deleted: p.deleted,
          elapsedMs: elapsedBefore + Date.now() - started,
          checkpoint: p.checkpoint,
        };
        await job.updateProgress(progress as unknown as object);
      },
    },
  );
  const durationMs = elapsedBefore + Date.now() - started;
  if (!result.completed) {
    await parkShard(job, token, log, { bucketsDone: result.buckets, durationMs }, 'shard paused for shutdown');
  }
  const out: ShardResult = { buckets: result.buckets, scanned: result.scanned, deleted: result.deleted, durationMs };
  log.info(out, 'shard finished');
  return out;
}

async function summarize(deps: Deps, job: Job<SummaryData>): Promise<SweepSummary> {
  // a parent queued by an older worker names no store: it was this worker's (the same environment)
  const store: StoreSummary = job.data.store ?? {
    prefix: deps.config.session.prefix,
    id: null,
    mode: 'hash',
    buckets: deps.config.session.buckets,
    layout: 'environment',
  };
  const totals = { buckets: 0, scanned: 0, deleted: 0 };
  const shards = await sumShards(job, totals);
  const summary: SweepSummary = {
    store,
    ...totals,
    durationMs: Date.now() - job.data.requestedAt,
    shards,
    dryRun: job.data.dryRun,
    strategy: job.data.strategy,
  };
  if (deps.config.cleanup.userIndex && !job.data.dryRun) {
    const prefix = Buffer.from(store.prefix, 'utf8');
    summary.userIndex = await pruneUserIndexes(deps.sessions, prefix, deps.config.cleanup.graceMs);
  }
  deps.logger.info({ sweepId: job.id, prefix: store.prefix, mode: store.mode, ...summary }, 'sweep finished');
  return summary;
}

/** Turns a sweep request into a flow built from this worker's configuration. */
async function startSweep(deps: Deps, job: Job<TriggerData>): Promise<TriggerResult> {
  const { origin, store: ref, ...overrides } = job.data ?? { origin: 'schedule' };
  const served = await servedFor(deps, 'sweep request', ref);
  const store = storeSummary(served);
  const req: SweepRequest = { ...defaultRequest(deps.config), ...definedOnly(overrides) };
  // named buckets (a custom hashKeyGenerator) are found only by SCAN, as store.sweep() does
  if (served.layout.bucketOf === 'custom' && overrides.strategy === undefined) req.strategy = 'existing';
  const skip = (skipped: string): TriggerResult => {
    deps.logger.info({ origin, prefix: store.prefix, mode: store.mode, reason: skipped }, 'sweep skipped');
    return { store, sweepJobId: null, shards: 0, bucketsTotal: 0, skipped };
  };
  if (served.layout.mode === 'string') {
    return skip(
      `${store.layout === 'manifest' ? 'the store is in string mode' : 'SESSION_MODE=string'}: ` +
        'Redis expires string-mode sessions itself',
    );
  }
  const buckets = served.layout.buckets as number;
  // A scheduled run while the previous sweep still waits on its shards would only pile up work.
  // (only sweep parents count: a migration waiting on its shards is no reason to skip a sweep)
  if (origin === 'schedule' && (await deps.queue.getWaitingChildren()).some((j) => j.name === JOB.summary)) {
    return skip('the previous sweep is still running');
  }
  const node = await enqueueSweep(deps.config, deps.flows, req, { ...store, buckets });
  const result: TriggerResult = {
    store,
    sweepJobId: node.job.id ?? null,
    shards: node.children?.length ?? 0,
    bucketsTotal: plannedBuckets(buckets, req),
  };
  deps.logger.info(
    {
      sweepId: result.sweepJobId,
      origin,
      prefix: store.prefix,
      mode: store.mode,
      buckets,
      layout: store.layout,
      ...req,
      shards: result.shards,
    },
    'sweep started',
  );
  return result;
}

/** One processor for every job name on the cleanup queue. */
export function createProcessor(deps: Deps): Processor {
  return async (job, token, signal) => {
    switch (job.name) {
      case JOB.shard:
        return processShard(deps, job as Job<ShardData>, token, signal);
      case JOB.summary:
        return summarize(deps, job as Job<SummaryData>);
      case JOB.trigger:
        return startSweep(deps, job as Job<TriggerData>);
      case MIGRATE_JOB.shard:
        return processMigrateShard(deps, job as Job<MigrateShardData>, token, signal);
      case MIGRATE_JOB.summary:
        return summarizeMigration(deps.logger, job as Job<Parameters<typeof summarizeMigration>[1]['data']>);
      default:
        throw new UnrecoverableError(`unknown job name ${JSON.stringify(job.name)}`);
    }
  };
}
