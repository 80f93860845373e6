/** Pure helpers that decide which buckets a sweep visits; no Redis here. */

export type SweepStrategy = 'full' | 'sample' | 'existing';
export const SWEEP_STRATEGIES: readonly SweepStrategy[] = ['full', 'sample', 'existing'];

/** Bucket indexes [from, to). */
export interface BucketRange {
  from: number;
  to: number;
}

/** Splits [0, buckets) into `shards` contiguous ranges whose sizes differ by at most one. */
export function shardRanges(buckets: number, shards: number): BucketRange[] {
  const n = Math.max(1, Math.min(shards, buckets));
  const base = Math.floor(buckets / n);
  const extra = buckets % n;
  const ranges: BucketRange[] = [];
  let from = 0;
  for (let i = 0; i < n; i++) {
    const size = base + (i < extra ? 1 : 0);
    ranges.push({ from, to: from + size });
    from += size;
  }
  return ranges;
}

/** `count` distinct random indexes from the range, ascending (Floyd's algorithm: O(count) memory). */
export function sampleIndexes(count: number, range: BucketRange, random: () => number = Math.random): number[] {
  const size = range.to - range.from;
  const k = Math.max(0, Math.min(count, size));
  const chosen = new Set<number>();
  for (let j = size - k; j < size; j++) {
    const t = Math.floor(random() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].map((i) => i + range.from).sort((a, b) => a - b);
}

/** Splits a list into consecutive pieces of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
