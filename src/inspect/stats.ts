import { bucketKey, bucketWidth, shardIndexOf } from '../keys/buckets.js';
import type { RedisClient } from '../redis/connections.js';
import { pipelinePerKey } from '../redis/pipeline.js';
import { scanPrefixPages } from '../redis/scan.js';
import { withScripts } from '../redis/scripts.js';
import { scanBuckets } from '../sweep/bucket-scan.js';
import { sampleIndexes } from '../sweep/plan.js';

export interface StatsTarget {
  client: RedisClient;
  prefix: Buffer;
  buckets: number;
}

export interface HashStats {
  mode: 'hash';
  /** true: counted over every existing bucket; false: extrapolated from `sampledBuckets` random buckets. */
  exact: boolean;
  sampledBuckets: number;
  buckets: number;
  bucketsInUse: number;
  sessions: number;
  expiredNotSwept: number;
  encodings: Record<string, number>;
  bytesPerSession: number | null;
  /** What to change when buckets are not listpacks (the memory advantage of hash mode is lost). */
  advice: string[];
}

/** Bucket keys SCAN finds under the prefix, or null once there are more than `budget`. */
async function existingBuckets(target: StatsTarget, budget: number): Promise<Buffer[] | null> {
  const width = bucketWidth(target.buckets);
  const found: Buffer[] = [];
  for await (const page of scanPrefixPages(target.client, target.prefix, 'hash', 1000)) {
    for (const k of page.keys) if (shardIndexOf(k, target.prefix, width, target.buckets) !== null) found.push(k);
    if (found.length > budget) return null;
  }
  return found;
}

/** Up to this many existing buckets, the default stats are exact: counting them is cheap. */
export const EXACT_BUDGET = 20_000;

/**
 * Counts every bucket that exists when there are few enough (or with exact); otherwise looks at
 * `sample` random buckets and extrapolates: existence, fields, expired fields (bucket_scan.lua
 * without deleting), encoding and MEMORY USAGE.
 */
export async function hashStats(
  target: StatsTarget,
  opts: { sample: number; exact: boolean; exactBudget?: number },
): Promise<HashStats> {
  const redis = withScripts(target.client);
  const width = bucketWidth(target.buckets);
  const budget = opts.exact ? Number.POSITIVE_INFINITY : (opts.exactBudget ?? EXACT_BUDGET);
  const existing = await existingBuckets(target, budget);
  const keysToVisit =
    existing ??
    sampleIndexes(opts.sample, { from: 0, to: target.buckets }).map((b) => bucketKey(target.prefix, b, width));
  const exact = existing !== null;
  let inUse = 0;
  let fields = 0;
  let expired = 0;
  let bytes = 0;
  const encodings: Record<string, number> = {};
  for (let i = 0; i < keysToVisit.length; i += 500) {
    const keys = keysToVisit.slice(i, i + 500);
    const replies = await pipelinePerKey(redis, keys, (pipe, k) => {
      pipe.hlen(k);
      pipe.object('ENCODING', k);
      pipe.memory('USAGE', k, 'SAMPLES', '0');
    });
    for (const [len, enc, mem] of replies) {
      if (!len?.[1]) continue;
      inUse++;
      fields += Number(len[1]);
      const name = String(enc?.[1] ?? 'unknown');
      encodings[name] = (encodings[name] ?? 0) + 1;
      bytes += Number(mem?.[1] ?? 0);
    }
    const t = await scanBuckets(redis, keys, { cutoff: Date.now(), graceMs: 0, remove: false });
    expired += t.expired;
  }
  const scale = exact ? 1 : target.buckets / Math.max(keysToVisit.length, 1);
  const advice: string[] = [];
  if ((encodings.hashtable ?? 0) > 0) {
    advice.push(
      "some buckets are hashtables, not listpacks: store smaller values (serializer: 'compact') or raise " +
        'hash-max-listpack-value above your largest stored session (CONFIG SET hash-max-listpack-value 256); ' +
        'if buckets hold over 512 sessions, raise hash-max-listpack-entries or the buckets option. ' +
        'Hashtable buckets convert back only when rewritten after a restart',
    );
  }
  return {
    mode: 'hash',
    exact,
    sampledBuckets: keysToVisit.length,
    buckets: target.buckets,
    bucketsInUse: Math.round(inUse * scale),
    sessions: Math.round((fields - expired) * scale),
    expiredNotSwept: Math.round(expired * scale),
    encodings,
    bytesPerSession: fields > 0 ? Math.round(bytes / fields) : null,
    advice,
  };
}
