import { FlowProducer, type JobNode, Queue, QueueEvents } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { type RedisClient, type SweepStrategy, shardRanges } from 'redisession';
import { type SweepCounts, sampleIndexes } from 'redisession/internal';
import type { WorkerConfig } from './config.js';
import { addFlow } from './flows.js';
import { describeTarget, queueClient } from './redis-target.js';
import type { StoreRef, StoreSummary } from './served-store.js';

/** Job names on the cleanup queue. */
export const JOB = {
  /**
   * A request for a sweep, from the Job Scheduler or `redisession cleanup`: it names its store, a
   * worker of another store refuses it, and the worker turns it into a flow built from the store's
   * layout (its manifest: prefix, buckets) and its own settings (grace).
   */
  trigger: 'sweep',
  /** Parent of a sweep flow: sums its shards once they are all done. */
  summary: 'sweep-summary',
  /** One contiguous range of buckets (or a list, for 'sample'). */
  shard: 'sweep-shard',
} as const;

export const SCHEDULER_ID = 'redisession-sweep';

/** What a sweep runs with; the CLI overrides parts of the configured defaults. */
export interface SweepRequest {
  strategy: SweepStrategy;
  shards: number;
  batch: number;
  sample: number;
  graceMs: number;
  dryRun: boolean;
}

export interface ShardData extends Omit<SweepRequest, 'shards'> {
  prefix: string;
  buckets: number;
  shard: number;
  shards: number;
  range: { from: number; to: number };
  indexes?: number[];
}

export interface SummaryData {
  store: StoreSummary;
  strategy: SweepStrategy;
  dryRun: boolean;
  shards: number;
  /** When the worker started the sweep (the flow was added). */
  requestedAt: number;
}

/** What may be asked of one sweep: the rest comes from the worker's configuration. */
export type SweepOverrides = Partial<Pick<SweepRequest, 'strategy' | 'shards' | 'batch' | 'sample' | 'dryRun'>>;

export interface TriggerData extends SweepOverrides {
  origin: 'schedule' | 'cli';
  /** The store the request is for; absent in requests of an older version (then: the worker's store). */
  store?: StoreRef;
}

/** A trigger's result: the sweep it started, or why none was started. */
export interface TriggerResult {
  /** The store this worker serves, which the sweep covers. */
  store: StoreSummary;
  sweepJobId: string | null;
  shards: number;
  /** Buckets the sweep will visit, null when unknown in advance ('existing'). */
  bucketsTotal: number | null;
  skipped?: string;
}

/** The sums a sweep reports: the parent job's return value and the CLI's --json output. */
export interface SweepSummary extends SweepCounts {
  /** The store swept: prefix, mode, bucket count, and whether the layout came from its manifest. */
  store: StoreSummary;
  shards: number;
  dryRun: boolean;
  strategy: SweepStrategy;
  /** With CLEANUP_USER_INDEX=on: user indexes visited and expired entries removed from them. */
  userIndex?: { indexes: number; removed: number };
}

/** The ioredis connection (a Cluster on Redis Cluster) BullMQ uses: see queueClient. */
export function queueConnection(config: WorkerConfig): RedisClient {
  return queueClient(config.queueRedis);
}

/**
 * For one-shot CLI commands: a queue connection that is up, or an error naming the (redacted)
 * URL after `timeoutMs`, instead of BullMQ's wait-forever.
 */
export async function connectQueue(config: WorkerConfig, timeoutMs = 5000): Promise<RedisClient> {
  const connection = queueClient(config.queueRedis, { lazyConnect: true });
  let lastError: Error | null = null;
  connection.on('error', (err: Error) => {
    lastError = err; // the real cause (ECONNREFUSED, WRONGPASS); connect() itself only says "closed"
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      connection.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return connection;
  } catch (err) {
    connection.disconnect();
    const cause = (lastError as Error | null)?.message ?? (err as Error).message;
    throw new Error(`cannot reach Redis at ${describeTarget(config.queueRedis)}: ${cause}`);
  } finally {
    clearTimeout(timer);
  }
}

export function defaultRequest(config: WorkerConfig): SweepRequest {
  return { ...config.cleanup, dryRun: false };
}

export function openQueue(config: WorkerConfig, connection: RedisClient): Queue {
  return new Queue(config.queue.name, { connection, prefix: config.queue.prefix });
}

/** Events of the queue from `lastEventId` on (default: from when its first read goes out). */
export function openQueueEvents(config: WorkerConfig, connection: RedisClient, lastEventId?: string): QueueEvents {
  // its own connection: QueueEvents blocks on XREAD (a duplicate does not coalesce writes: nothing to batch)
  const copy = connection.isCluster ? (connection as Cluster).duplicate() : (connection as Redis).duplicate();
  return new QueueEvents(config.queue.name, {
    connection: copy,
    prefix: config.queue.prefix,
    ...(lastEventId ? { lastEventId } : {}),
  });
}

/** The buckets a sweep visits, when known in advance. */
export function plannedBuckets(buckets: number, req: SweepRequest): number | null {
  if (req.strategy === 'full') return buckets;
  if (req.strategy === 'sample') return Math.min(req.sample, buckets);
  return null;
}

/**
 * The children of one sweep: a shard per range of buckets (or per slice of the sampled list).
 * 'existing' walks the keyspace with SCAN, which cannot be split by bucket range without every
 * shard scanning everything, so it always runs as one shard.
 */
function shardJobs(store: { prefix: string; buckets: number }, req: SweepRequest): ShardData[] {
  const { prefix, buckets } = store;
  const ranges = shardRanges(buckets, req.strategy === 'existing' ? 1 : req.shards);
  const common = { ...req, prefix, buckets, shards: ranges.length };
  if (req.strategy === 'sample') {
    // The parent draws the sample once, so a retried shard revisits the same buckets.
    const all = sampleIndexes(req.sample, { from: 0, to: buckets });
    return ranges.map((range, shard) => ({
      ...common,
      shard,
      range,
      indexes: all.filter((i) => i >= range.from && i < range.to),
    }));
  }
  return ranges.map((range, shard) => ({ ...common, shard, range }));
}

/**
 * Adds one sweep as a BullMQ flow: a summary parent with one child per shard. A shard that fails
 * after its attempts fails the parent (failParentOnFailure), so no sweep waits forever.
 */
export async function enqueueSweep(
  config: WorkerConfig,
  flows: FlowProducer,
  req: SweepRequest,
  store: StoreSummary & { buckets: number },
): Promise<JobNode> {
  const shards = shardJobs(store, req);
  const summary: SummaryData = {
    store,
    strategy: req.strategy,
    dryRun: req.dryRun,
    shards: shards.length,
    requestedAt: Date.now(),
  };
  return addFlow(config, flows, JOB, summary, shards);
}

export function openFlowProducer(config: WorkerConfig, connection: RedisClient): FlowProducer {
  return new FlowProducer({ connection, prefix: config.queue.prefix });
}
