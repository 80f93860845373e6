import { bucketKey, bucketWidth } from '../keys/buckets.js';
import type { RedisClient } from '../redis/connections.js';
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
  /** true: counted over every bucket; false: extrapolated from `sampledBuckets` random buckets. */
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

/**
 * Looks at `sample` random buckets (or all of them with exact) and extrapolates: existence,
 * fields, expired fields (bucket_scan.lua without deleting), encoding and MEMORY USAGE.
 */
export async function hashStats(target: StatsTarget, opts: { sample: number; exact: boolean }): Promise<HashStats> {
  const redis = withScripts(target.client);
  const width = bucketWidth(target.buckets);
  const indexes = opts.exact
    ? Array.from({ length: target.buckets }, (_, i) => i)
    : sampleIndexes(opts.sample, { from: 0, to: target.buckets });
  let inUse = 0;
  let fields = 0;
  let expired = 0;
  let bytes = 0;
  const encodings: Record<string, number> = {};
  for (let i = 0; i < indexes.length; i += 500) {
    const keys = indexes.slice(i, i + 500).map((b) => bucketKey(target.prefix, b, width));
    const pipe = redis.pipeline();
    for (const k of keys) {
      pipe.hlen(k);
      pipe.object('ENCODING', k);
      pipe.memory('USAGE', k, 'SAMPLES', '0');
    }
    const replies = (await pipe.exec()) ?? [];
    for (let j = 0; j < keys.length; j++) {
      const len = Number(replies[j * 3]?.[1] ?? 0);
      if (len === 0) continue;
      inUse++;
      fields += len;
      const enc = String(replies[j * 3 + 1]?.[1] ?? 'unknown');
      encodings[enc] = (encodings[enc] ?? 0) + 1;
      bytes += Number(replies[j * 3 + 2]?.[1] ?? 0);
    }
    const t = await scanBuckets(redis, keys, { cutoff: Date.now(), graceMs: 0, remove: false });
    expired += t.expired;
  }
  const scale = target.buckets / Math.max(indexes.length, 1);
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
    exact: opts.exact,
    sampledBuckets: indexes.length,
    buckets: target.buckets,
    bucketsInUse: Math.round(inUse * scale),
    sessions: Math.round((fields - expired) * scale),
    expiredNotSwept: Math.round(expired * scale),
    encodings,
    bytesPerSession: fields > 0 ? Math.round(bytes / fields) : null,
    advice,
  };
}
