import { type FlowProducer, type Job, type JobNode, UnrecoverableError } from 'bullmq';
import {
  createSessionStore,
  LayoutMismatchError,
  type LegacyLayout,
  type MigrateCheckpoint,
  type RedisClient,
  runMigration,
  shardRanges,
} from 'redisession';
import { idSecretFingerprint, withOrigin } from 'redisession/internal';
import type { WorkerConfig } from './config.js';
import { addFlow, parkShard, savedProgress, sumShards } from './flows.js';
import type { Logger } from './logger.js';
import { type StoreRef, type StoreSummary, servedFor } from './served-store.js';

/*
 * `redisession migrate`: a flow like a sweep's (queue.ts), a summary parent with one
 * child per shard. The request carries both layouts and names its store; only a worker of that
 * store runs it, and only with the key scheme the request names (the secret itself never travels:
 * its fingerprint does, and a worker whose SESSION_ID_SECRET differs refuses).
 */

export const MIGRATE_JOB = { summary: 'migrate-summary', shard: 'migrate-shard' } as const;

export interface MigrateRequest {
  /** The store the sessions move into (its prefix is `prefix`). */
  store: StoreRef;
  /** How the store turns ids into keys; a custom keyGenerator is not the worker's to derive. */
  keyScheme: 'default' | 'hashed';
  /** keyScheme 'hashed': the fingerprint of the idSecret the worker must hold; null otherwise. */
  idSecret: string | null;
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
  /** The store the sessions moved into. */
  store: StoreSummary;
  /** Where they came from. */
  source: { layout: LegacyLayout; prefix: string };
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
  return addFlow(config, flows, MIGRATE_JOB, { ...req, requestedAt: Date.now() }, migrateShards(req));
}

/**
 * Why this worker cannot write the request's keys, or null. The request carries the fingerprint of
 * the idSecret its keys need (the CLI's SESSION_ID_SECRET, or the store's manifest), never the secret.
 */
export function keyProblem(req: Pick<MigrateRequest, 'keyScheme' | 'idSecret' | 'prefix'>, secret: string | null) {
  // a request from an older CLI names no scheme: it meant the worker's own, as it always did
  if (req.keyScheme === undefined) return null;
  const mine = secret === null ? null : idSecretFingerprint(secret);
  if (req.idSecret === mine) return null;
  const needed =
    req.idSecret === null ? 'ids as keys (no idSecret)' : `ids hashed with the idSecret of fingerprint ${req.idSecret}`;
  const here =
    mine === null ? 'this worker has no SESSION_ID_SECRET' : `this worker's SESSION_ID_SECRET has fingerprint ${mine}`;
  return (
    `migration into store ${JSON.stringify(req.prefix)} refused: it needs ${needed}, but ${here}; moved sessions ` +
    "would be stored under keys the web tier never looks up. Give the worker the web tier's idSecret as " +
    'SESSION_ID_SECRET (the CLI and the worker must agree)'
  );
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
  const checkpoint = savedProgress<MigrateProgress>(job)?.checkpoint;
  const migrationId = job.parent?.id ?? null;
  const log = deps.logger.child({ migrationId, jobId: job.id, shard: d.shard, shards: d.shards });
  await servedFor(deps, 'migration', d.store ?? { prefix: d.prefix, id: null });
  const problem = keyProblem(d, deps.config.session.idSecret);
  if (problem) {
    log.error({ prefix: d.prefix }, problem);
    throw new UnrecoverableError(problem);
  }
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
  const store = createSessionStore(
    withOrigin(
      {
        redis: deps.sessions,
        mode: d.to,
        prefix: d.prefix,
        buckets: d.buckets,
        legacy: { layout: d.from, prefix: d.fromPrefix, buckets: d.fromBuckets },
        // the web tier's key scheme (checked above): sessions moved under other keys would be lost to it
        ...(d.idSecret && deps.config.session.idSecret ? { idSecret: deps.config.session.idSecret } : {}),
        ...(d.userField ? { userId: (s: Record<string, unknown>) => pick(s, d.userField as string) } : {}),
      },
      { createdBy: 'redisession migrate' },
    ),
  );
  try {
    // the target store's manifest, checked (or recorded) before the first session moves
    await store.checkLayout?.();
  } catch (err) {
    await store.close();
    if (!(err instanceof LayoutMismatchError)) throw err;
    log.error({ prefix: d.prefix }, err.message);
    throw new UnrecoverableError(err.message);
  }
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
  if (!completed)
    await parkShard(job, token, log, { done: totals.done, durationMs }, 'migrate shard paused for shutdown');
  log.info({ ...totals, durationMs }, 'migrate shard finished');
  return totals;
}

export async function summarizeMigration(
  logger: Logger,
  job: Job<MigrateRequest & { requestedAt: number }>,
): Promise<MigrateSummary> {
  const d = job.data;
  // a shard finished by a worker of an older version has no `foreign`: it counts 0
  const totals: MigrateTotals = { done: 0, scanned: 0, moved: 0, newer: 0, skipped: 0, foreign: 0 };
  const shards = await sumShards(job, totals);
  const summary: MigrateSummary = {
    store: {
      prefix: d.prefix,
      id: d.store?.id ?? null,
      mode: d.to,
      buckets: d.to === 'hash' ? d.buckets : null,
      layout: d.store?.id ? 'manifest' : 'environment',
    },
    source: { layout: d.from, prefix: d.fromPrefix },
    ...totals,
    shards,
    dryRun: job.data.dryRun,
    durationMs: Date.now() - job.data.requestedAt,
  };
  logger.info({ migrationId: job.id, prefix: d.prefix, mode: d.to, ...summary }, 'migration finished');
  return summary;
}
