import { DelayedError, type FlowProducer, type Job, type JobNode } from 'bullmq';
import { type MigrateCheckpoint, runMigration } from '../migrate/bulk.js';
import type { LegacyLayout } from '../migrate/legacy.js';
import type { RedisClient } from '../redis/connections.js';
import { createSessionStore } from '../store/session-store.js';
import { shardRanges } from '../sweep/plan.js';
import type { WorkerConfig } from './config.js';
import type { Logger } from './logger.js';
import { KEEP, shardJobOptions } from './queue.js';

/*
 * `redisession migrate`: a flow like a sweep's (src/worker/queue.ts), a summary parent with one
 * child per shard. The request carries both layouts, so any worker on the queue can run it.
 */

export const MIGRATE_JOB = { summary: 'migrate-summary', shard: 'migrate-shard' } as const;

export interface MigrateRequest {
  from: LegacyLayout;
  fromPrefix: string;
  /** 'hash' source: its bucket count. */
  fromBuckets: number;
  to: 'hash' | 'string';
  prefix: string;
  buckets: number;
  /** Dotted path of the user id in a session (e.g. passport.user), to fill the user index as sessions move. */
  userField: string | null;
  shards: number;
  batch: number;
  dryRun: boolean;
}

export interface MigrateShardData extends MigrateRequest {
  shard: number;
  range: { from: number; to: number };
}

/** What a migrate shard reports after every batch; the checkpoint resumes a retry. */
export interface MigrateProgress {
  migrationId: string | null;
  shard: number;
  checkpoint: MigrateCheckpoint;
}

export type MigrateTotals = Omit<MigrateCheckpoint, 'position'>;

export interface MigrateSummary extends MigrateTotals {
  shards: number;
  dryRun: boolean;
  durationMs: number;
}

/** A SCAN over one prefix cannot be split: connect-redis and string sources run as one shard. */
function migrateShards(req: MigrateRequest): MigrateShardData[] {
  const ranges = req.from === 'hash' ? shardRanges(req.fromBuckets, req.shards) : [{ from: 0, to: 1 }];
  return ranges.map((range, shard) => ({ ...req, shards: ranges.length, shard, range }));
}

export async function enqueueMigration(
  config: WorkerConfig,
  flows: FlowProducer,
  req: MigrateRequest,
): Promise<JobNode> {
  const queueName = config.queue.name;
  return flows.add({
    name: MIGRATE_JOB.summary,
    queueName,
    data: { ...req, requestedAt: Date.now() },
    opts: { removeOnComplete: KEEP.completed, removeOnFail: KEEP.failed },
    children: migrateShards(req).map((data) => ({
      name: MIGRATE_JOB.shard,
      queueName,
      data,
      opts: shardJobOptions(config),
    })),
  });
}

function pick(session: Record<string, unknown>, path: string): string | number | undefined {
  let at: unknown = session;
  for (const part of path.split('.')) at = (at as Record<string, unknown> | null)?.[part];
  return typeof at === 'string' || typeof at === 'number' ? at : undefined;
}

export async function processMigrateShard(
  deps: { sessions: RedisClient; logger: Logger; config: WorkerConfig },
  job: Job<MigrateShardData>,
  token: string | undefined,
  signal?: AbortSignal,
): Promise<MigrateTotals> {
  const d = job.data;
  const p = job.progress as unknown;
  const checkpoint =
    typeof p === 'object' && p !== null && 'checkpoint' in p ? (p as MigrateProgress).checkpoint : undefined;
  const migrationId = job.parent?.id ?? null;
  const log = deps.logger.child({ migrationId, jobId: job.id, shard: d.shard, shards: d.shards });
  log.info(
    {
      from: d.from,
      fromPrefix: d.fromPrefix,
      to: d.to,
      prefix: d.prefix,
      dryRun: d.dryRun,
      resumeAt: checkpoint?.done,
    },
    checkpoint ? 'migrate shard resumed' : 'migrate shard started',
  );
  const store = createSessionStore({
    redis: deps.sessions,
    mode: d.to,
    prefix: d.prefix,
    buckets: d.buckets,
    legacy: { layout: d.from, prefix: d.fromPrefix, buckets: d.fromBuckets },
    // the web tier's key scheme: sessions moved under other keys would be lost to it
    ...(deps.config.session.idSecret ? { idSecret: deps.config.session.idSecret } : {}),
    ...(d.userField ? { userId: (s: Record<string, unknown>) => pick(s, d.userField as string) } : {}),
  });
  const result = await runMigration(store, {
    batch: d.batch,
    dryRun: d.dryRun,
    ...(d.from === 'hash' ? { range: d.range } : {}),
    ...(checkpoint ? { checkpoint } : {}),
    ...(signal ? { signal } : {}),
    onProgress: async (cp) => {
      const progress: MigrateProgress = { migrationId, shard: d.shard, checkpoint: cp };
      await job.updateProgress(progress as unknown as object);
    },
  }).finally(() => store.close());
  const { position: _p, completed, durationMs, ...totals } = result;
  if (!completed) {
    // shutting down: park without spending an attempt; the next taker resumes from the checkpoint
    log.info({ done: totals.done, durationMs }, 'migrate shard paused for shutdown');
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }
  log.info({ ...totals, durationMs }, 'migrate shard finished');
  return totals;
}

export async function summarizeMigration(
  logger: Logger,
  job: Job<MigrateRequest & { requestedAt: number }>,
): Promise<MigrateSummary> {
  const values = Object.values(await job.getChildrenValues<MigrateTotals>());
  const summary: MigrateSummary = {
    done: 0,
    scanned: 0,
    moved: 0,
    newer: 0,
    skipped: 0,
    foreign: 0,
    shards: values.length,
    dryRun: job.data.dryRun,
    durationMs: Date.now() - job.data.requestedAt,
  };
  for (const v of values) {
    summary.done += v.done;
    summary.scanned += v.scanned;
    summary.moved += v.moved;
    summary.newer += v.newer;
    summary.skipped += v.skipped;
    summary.foreign += v.foreign ?? 0; // a shard finished by a worker of an older version has none
  }
  logger.info({ migrationId: job.id, ...summary }, 'migration finished');
  return summary;
}
