import { bucketKey, bucketWidth, shardIndexOf } from '../keys/buckets.js';
import { assertClient, type RedisClient } from '../redis/connections.js';
import { type ScanPosition, scanPrefixPages } from '../redis/scan.js';
import { withScripts } from '../redis/scripts.js';
import { DEFAULT_GRACE_MS, scanBuckets } from './bucket-scan.js';
import { CallBudget } from './call-budget.js';
import { resolveSweepOptions } from './options.js';
import { type BucketRange, type SweepStrategy, sampleIndexes } from './plan.js';

/** Which store's buckets to sweep. */
export interface SweepTarget {
  client: RedisClient;
  prefix: Buffer;
  buckets: number;
}

/** Where a sweep stands after a finished batch: enough to resume it (the worker stores it in job progress). */
export interface SweepCheckpoint {
  /** full: next bucket index; sample: next position in the index list; existing: next SCAN position. */
  position: number | ScanPosition | null;
  bucketsDone: number;
  scanned: number;
  deleted: number;
}

export interface SweepProgress {
  bucketsDone: number;
  /** null for the 'existing' strategy until SCAN is through: the count is not known in advance. */
  bucketsTotal: number | null;
  scanned: number;
  deleted: number;
  checkpoint: SweepCheckpoint;
}

export interface SweepOptions {
  /** @default 'full' */
  strategy?: SweepStrategy;
  /** Buckets visited by the 'sample' strategy (the seed sampled 100 keys). @default 100 */
  sample?: number;
  /** Buckets per round trip. @default 100 */
  batch?: number;
  /** Subtracted from the server clock before judging expiry (alias: `grace`, in seconds). @default 60000 */
  graceMs?: number;
  /**
   * Redis time each script call should take, in µs: calls are sized from the ones before to take
   * about this long, and a web request arriving meanwhile waits at most about that (10..100000).
   * @default 100
   */
  callBudgetUs?: number;
  /** Count what would be deleted, delete nothing. @default false */
  dryRun?: boolean;
  /** Only buckets in [from, to) (a shard). @default every bucket */
  range?: BucketRange;
  /** The exact buckets to visit (a 'sample' shard gets its list from the parent job). */
  indexes?: number[];
  /** Resume after the last finished batch of an earlier run. */
  checkpoint?: SweepCheckpoint;
  /** Called after every batch; awaited, so it can persist the checkpoint. */
  onProgress?: (progress: SweepProgress) => void | Promise<void>;
  /** When aborted, the sweep stops after the batch under way and returns completed: false. */
  signal?: AbortSignal;
  /** Alias of graceMs, in seconds. */
  grace?: number;
  /** Alias of batch. */
  batchSize?: number;
  /** Alias of sample. */
  sampleSize?: number;
  /** Alias of dryRun. */
  dry?: boolean;
}

/** What a sweep (or one shard of it, or all its shards summed) did. */
export interface SweepCounts {
  /** Buckets visited. */
  buckets: number;
  /** Fields looked at. */
  scanned: number;
  /** Expired sessions deleted (with dryRun: that would have been deleted). */
  deleted: number;
  durationMs: number;
}

export interface SweepResult extends SweepCounts {
  /** false when stopped early by the signal; the last checkpoint resumes it. */
  completed: boolean;
  checkpoint: SweepCheckpoint;
  /** store.sweep() with the userId option: user indexes visited, expired entries removed from them. */
  userIndex?: { indexes: number; removed: number };
}

interface Batch {
  keys: Buffer[];
  /** Position after this batch. */
  next: SweepCheckpoint['position'];
}

/** The batches of bucket keys a strategy visits, starting at a saved position. */
async function* batches(target: SweepTarget, opts: SweepOptions, range: BucketRange): AsyncGenerator<Batch> {
  const width = bucketWidth(target.buckets);
  const batch = opts.batch ?? 100;
  const keyOf = (i: number) => bucketKey(target.prefix, i, width);
  const start = opts.checkpoint?.position ?? null;
  const strategy = opts.strategy ?? 'full';

  if (strategy === 'full' && !opts.indexes) {
    for (let i = typeof start === 'number' ? start : range.from; i < range.to; i += batch) {
      const end = Math.min(i + batch, range.to);
      yield { keys: Array.from({ length: end - i }, (_, j) => keyOf(i + j)), next: end };
    }
    return;
  }
  if (strategy === 'sample' || opts.indexes) {
    const list = opts.indexes ?? sampleIndexes(opts.sample ?? 100, range);
    for (let p = typeof start === 'number' ? start : 0; p < list.length; p += batch) {
      const end = Math.min(p + batch, list.length);
      yield { keys: list.slice(p, end).map(keyOf), next: end };
    }
    return;
  }
  // existing: only buckets that exist, found with SCAN under the prefix (sparse keyspaces, named buckets)
  const from = start !== null && typeof start === 'object' ? start : undefined;
  for await (const page of scanPrefixPages(target.client, target.prefix, 'hash', batch, from)) {
    const keys = page.keys.filter((k) => {
      // named buckets (a custom hashKeyGenerator) are shared out among shards by a hash of their name
      const i = shardIndexOf(k, target.prefix, width, target.buckets);
      return i !== null && i >= range.from && i < range.to;
    });
    yield { keys, next: page.next };
  }
}

function plannedTotal(opts: SweepOptions, range: BucketRange): number | null {
  if (opts.indexes) return opts.indexes.length;
  switch (opts.strategy ?? 'full') {
    case 'full':
      return range.to - range.from;
    case 'sample':
      return Math.min(opts.sample ?? 100, range.to - range.from);
    default:
      return null;
  }
}

/**
 * Removes expired hash-mode sessions, one Lua call per bucket (deciding and deleting atomically
 * on the server's clock), a batch of buckets per round trip. Shared by store.sweep() and the
 * worker's shard jobs.
 */
export async function runSweep(target: SweepTarget, options: SweepOptions = {}): Promise<SweepResult> {
  assertClient('runSweep: "client"', target?.client, 'an ioredis client (Redis or Cluster)');
  const opts = resolveSweepOptions(options);
  const started = Date.now();
  const redis = withScripts(target.client);
  const range = opts.range ?? { from: 0, to: target.buckets };
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const state: SweepCheckpoint = {
    position: opts.checkpoint?.position ?? null,
    bucketsDone: opts.checkpoint?.bucketsDone ?? 0,
    scanned: opts.checkpoint?.scanned ?? 0,
    deleted: opts.checkpoint?.deleted ?? 0,
  };
  let total = plannedTotal(opts, range);
  let completed = true;
  // one budget for the whole sweep: what a call learns sizes the next, across batches
  const budget = new CallBudget(opts.callBudgetUs);

  for await (const { keys, next } of batches(target, opts, range)) {
    // Checked before a batch, not after: a sweep stopped after its last batch is complete.
    if (opts.signal?.aborted) {
      completed = false;
      break;
    }
    if (keys.length > 0) {
      const t = await scanBuckets(redis, keys, { cutoff: '', graceMs, remove: !opts.dryRun, budget });
      state.bucketsDone += keys.length;
      state.scanned += t.scanned;
      state.deleted += t.expired;
    }
    state.position = next;
    if (next === null && total === null) total = state.bucketsDone;
    await opts.onProgress?.({
      bucketsDone: state.bucketsDone,
      bucketsTotal: total,
      scanned: state.scanned,
      deleted: state.deleted,
      checkpoint: { ...state },
    });
  }
  return {
    buckets: state.bucketsDone,
    scanned: state.scanned,
    deleted: state.deleted,
    durationMs: Date.now() - started,
    completed,
    checkpoint: { ...state },
  };
}
