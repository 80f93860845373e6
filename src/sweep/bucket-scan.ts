import { type ScriptedClient, scriptPerKey } from '../redis/scripts.js';

/** HSCAN COUNT per bucket_scan.lua call: bounds the work of one script call on a big bucket. */
export const SCAN_SLICE = 500;

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

type Reply = [string | Buffer, number, number, number];

/**
 * Runs bucket_scan.lua over a batch of buckets: one pipelined round trip for all of them, then
 * further round trips only for the big (hashtable) buckets whose HSCAN cursor is not done yet.
 */
export async function scanBuckets(
  redis: ScriptedClient,
  keys: Buffer[],
  opts: BucketScanOptions,
): Promise<BucketTotals> {
  const totals: BucketTotals = { scanned: 0, expired: 0, live: 0 };
  let pending = keys.map((key) => ({ key, cursor: '0' }));
  const args = (cursor: string) =>
    [cursor, SCAN_SLICE, String(opts.cutoff), opts.graceMs, opts.remove ? '1' : '0'] as const;
  while (pending.length > 0) {
    const batch = pending;
    const replies = (await scriptPerKey(
      redis,
      'rsBucketScan',
      batch.map((p) => p.key),
      (_k, i) => [...args((batch[i] as { cursor: string }).cursor)],
    )) as Reply[];
    const next: typeof pending = [];
    replies.forEach((reply, i) => {
      totals.scanned += reply[1];
      totals.expired += reply[2];
      totals.live += reply[3];
      const cursor = reply[0].toString();
      if (cursor !== '0') next.push({ key: (pending[i] as { key: Buffer }).key, cursor });
    });
    pending = next;
  }
  return totals;
}
