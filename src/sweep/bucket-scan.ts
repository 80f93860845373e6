import { type Arg, type ScriptedClient, scriptPerKey } from '../redis/scripts.js';
import { chunk } from './plan.js';

/** HSCAN COUNT per bucket_scan.lua call: bounds the work of one script call on a big bucket. */
export const SCAN_SLICE = 100;

/** Sweeps use the server's clock minus this, so a web server whose clock runs ahead loses nothing. */
export const DEFAULT_GRACE_MS = 60_000;

export interface BucketScanOptions {
  /** Expiry at or below this (Unix ms) counts as expired; '' = the server's TIME minus graceMs. */
  cutoff: number | '';
  graceMs: number;
  /** Delete the expired sessions (a sweep) or only count them (length, dry run). */
  remove: boolean;
}

export interface BucketTotals {
  scanned: number;
  expired: number;
  live: number;
}

/**
 * Buckets per bucket_scan.lua call on a single Redis (on a cluster each call takes one). One call
 * instead of one per bucket saves most of the per-call cost; fewer buckets per call keep each call
 * short, and a web request waits behind at most one of them (see the README's Performance section).
 */
export const BUCKETS_PER_CALL = 16;

/**
 * A call starts no further bucket once it has looked at this many fields: at about 1 µs a field,
 * a call stays near 0.1-0.2 ms, so a web request waiting behind one is barely slowed.
 */
export const FIELDS_PER_CALL = 100;

interface Pending {
  key: Buffer;
  cursor: string;
}

/** Flat replies of bucket_scan.lua, one per group: 4 entries per bucket it got to. */
async function scanGroups(redis: ScriptedClient, groups: Pending[][], common: Arg[]): Promise<unknown[][]> {
  if (redis.isCluster) {
    // one key per call, so each routes to its node
    const single = groups.map((g) => g[0] as Pending);
    return (await scriptPerKey(
      redis,
      'rsBucketScan',
      single.map((p) => p.key),
      (_k, i) => [...common, (single[i] as Pending).cursor],
    )) as unknown[][];
  }
  // One call at a time, not pipelined: Redis runs a client's pipelined calls back to back, so a web
  // request would wait behind all of them.
  const replies: unknown[][] = [];
  for (const g of groups) {
    replies.push(
      (await redis.rsBucketScanMany(
        g.length,
        ...g.map((p) => p.key),
        ...common,
        ...g.map((p) => p.cursor),
      )) as unknown[],
    );
  }
  return replies;
}

/**
 * Runs bucket_scan.lua over a batch of buckets (several buckets per call on a single Redis, one per
 * call on a cluster), then again for the buckets a call did not get to and the big (hashtable)
 * buckets whose HSCAN cursor is not done yet.
 */
export async function scanBuckets(
  redis: ScriptedClient,
  keys: Buffer[],
  opts: BucketScanOptions,
): Promise<BucketTotals> {
  const totals: BucketTotals = { scanned: 0, expired: 0, live: 0 };
  const common: Arg[] = [SCAN_SLICE, String(opts.cutoff), opts.graceMs, opts.remove ? '1' : '0', FIELDS_PER_CALL];
  const perCall = redis.isCluster ? 1 : BUCKETS_PER_CALL;
  let pending: Pending[] = keys.map((key) => ({ key, cursor: '0' }));
  while (pending.length > 0) {
    const groups = chunk(pending, perCall);
    const replies = await scanGroups(redis, groups, common);
    const next: Pending[] = [];
    groups.forEach((group, g) => {
      const reply = replies[g] as unknown[];
      group.forEach((p, i) => {
        if (i * 4 >= reply.length) {
          next.push(p); // the call's field budget ran out before this bucket
          return;
        }
        totals.scanned += Number(reply[i * 4 + 1]);
        totals.expired += Number(reply[i * 4 + 2]);
        totals.live += Number(reply[i * 4 + 3]);
        const cursor = String(reply[i * 4]);
        if (cursor !== '0') next.push({ key: p.key, cursor });
      });
    });
    pending = next;
  }
  return totals;
}
