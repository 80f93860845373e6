import { decodeEnvelope } from '../codec/envelope.js';
import { BUILTIN_SERIALIZER_IDS } from '../codec/serializers.js';
import { bucketKey, bucketWidth, shardIndexOf } from '../keys/buckets.js';
import type { RedisClient } from '../redis/connections.js';
import { pipelinePerKey } from '../redis/pipeline.js';
import { scanPrefixPages } from '../redis/scan.js';
import { withScripts } from '../redis/scripts.js';
import { scanBuckets } from '../sweep/bucket-scan.js';
import { sampleIndexes } from '../sweep/plan.js';
import { DEFAULT_LIMITS, type HashtableCauses, hashtableCauses, type ValueMakeup, valueMakeup } from './hashtables.js';
import { type ListpackLimits, listpackIssues, listpackLimits } from './listpack.js';

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
  /** Sizes of stored entries, from up to SIZE_SAMPLE fields of each of the first SIZE_BUCKETS buckets in use. */
  entries: EntrySizes;
  /** The server's listpack thresholds, when CONFIG GET is allowed. */
  limits: ListpackLimits | null;
  /** Why the hashtable buckets seen are hashtables (up to 32 of them looked at entry by entry). */
  hashtables: HashtableCauses | null;
  /** The largest sampled value when it is over hash-max-listpack-value: what it is made of. */
  largestValue: ValueMakeup | null;
  /** What to change when buckets are not (or will not stay) listpacks: hash mode's memory advantage is lost. */
  advice: string[];
}

export interface EntrySizes {
  sampledFields: number;
  /** Stored value bytes (envelope included): what hash-max-listpack-value is compared with. */
  maxValueBytes: number | null;
  p95ValueBytes: number | null;
  /** Stored field bytes (the session's binary key): hash-max-listpack-value applies to them too. */
  maxFieldBytes: number | null;
  /** Sampled values and fields longer than hash-max-listpack-value (Redis's 64 if CONFIG is not allowed). */
  valuesOverLimit: number;
  fieldsOverLimit: number;
  /** The most fields seen in one visited bucket: what hash-max-listpack-entries is compared with. */
  maxFieldsPerBucket: number;
  /** Serializers named by the sampled values' envelopes ('json', 'compact', a custom name; 'unreadable'). */
  serializers: Record<string, number>;
}

const BUILTIN_NAMES = new Map<number | string, string>(
  Object.entries(BUILTIN_SERIALIZER_IDS).map(([name, id]) => [id, name]),
);

function serializerOf(value: Buffer): string {
  try {
    const id = decodeEnvelope(value).serializer;
    return BUILTIN_NAMES.get(id) ?? String(id);
  } catch {
    return 'unreadable';
  }
}

const SIZE_SAMPLE = 8;
const SIZE_BUCKETS = 512;

/** Up to this many existing buckets, the default stats are exact: counting them is cheap. */
export const EXACT_BUDGET = 20_000;

/**
 * Collects the bucket keys of a walk of the prefix's hashes (SCAN pages, in order), up to a
 * budget: what the stats count when there are few enough. The doctor's layout check feeds its own
 * walk in, so the prefix is walked once.
 */
export class BucketsFound {
  private found: Buffer[] | null = [];
  private readonly width: number;

  constructor(
    private readonly target: Omit<StatsTarget, 'client'>,
    private readonly budget = EXACT_BUDGET,
  ) {
    this.width = bucketWidth(target.buckets);
  }

  add(key: Buffer): void {
    if (this.found === null || shardIndexOf(key, this.target.prefix, this.width, this.target.buckets) === null) return;
    this.found.push(key);
    if (this.found.length > this.budget) this.found = null;
  }

  /** The bucket keys, or null once there were more than the budget. */
  get keys(): Buffer[] | null {
    return this.found;
  }
}

/** Bucket keys SCAN finds under the prefix, or null once there are more than `budget`. */
async function existingBuckets(target: StatsTarget, budget: number): Promise<Buffer[] | null> {
  const found = new BucketsFound(target, budget);
  for await (const page of scanPrefixPages(target.client, target.prefix, 'hash', 1000)) {
    for (const k of page.keys) found.add(k);
    if (found.keys === null) return null;
  }
  return found.keys;
}

/**
 * Counts every bucket that exists when there are few enough (or with exact); otherwise looks at
 * `sample` random buckets and extrapolates: existence, fields, expired fields (bucket_scan.lua
 * without deleting), encoding and MEMORY USAGE. `found`: the buckets a whole walk of the prefix
 * found (see BucketsFound), instead of walking it again.
 */
export async function hashStats(target: StatsTarget, opts: HashStatsOptions): Promise<HashStats> {
  const stats = await measureHash(target, opts);
  return { ...stats, advice: listpackIssues(stats).map((i) => `${i.problem}; fix: ${i.fix}`) };
}

export interface HashStatsOptions {
  sample: number;
  exact: boolean;
  exactBudget?: number;
  found?: BucketsFound;
}

/** hashStats without the advice: what the doctor turns into findings (src/inspect/doctor.ts). */
export async function measureHash(target: StatsTarget, opts: HashStatsOptions): Promise<Omit<HashStats, 'advice'>> {
  const redis = withScripts(target.client);
  const width = bucketWidth(target.buckets);
  const budget = opts.exact ? Number.POSITIVE_INFINITY : (opts.exactBudget ?? EXACT_BUDGET);
  const existing = opts.found ? opts.found.keys : await existingBuckets(target, budget);
  const keysToVisit =
    existing ??
    sampleIndexes(opts.sample, { from: 0, to: target.buckets }).map((b) => bucketKey(target.prefix, b, width));
  const exact = existing !== null;
  const limits = await listpackLimits(target.client);
  const limit = (limits ?? DEFAULT_LIMITS).value;
  const hashtableKeys: Buffer[] = [];
  let largest: Buffer | null = null;
  let valuesOver = 0;
  let fieldsOver = 0;
  let inUse = 0;
  let fields = 0;
  let expired = 0;
  let bytes = 0;
  const encodings: Record<string, number> = {};
  const valueSizes: number[] = [];
  const serializers: Record<string, number> = {};
  let maxField: number | null = null;
  let maxFieldsPerBucket = 0;
  let sizedBuckets = 0;
  for (let i = 0; i < keysToVisit.length; i += 500) {
    const keys = keysToVisit.slice(i, i + 500);
    const replies = await pipelinePerKey(redis, keys, (pipe, k) => {
      pipe.hlen(k);
      pipe.object('ENCODING', k);
      pipe.memory('USAGE', k, 'SAMPLES', '0');
    });
    const sizing: Buffer[] = [];
    replies.forEach(([len, enc, mem], j) => {
      const n = Number(len?.[1] ?? 0);
      if (n === 0) return;
      inUse++;
      fields += n;
      const name = String(enc?.[1] ?? 'unknown');
      encodings[name] = (encodings[name] ?? 0) + 1;
      if (name === 'hashtable' && hashtableKeys.length < 32) hashtableKeys.push(keys[j] as Buffer);
      bytes += Number(mem?.[1] ?? 0);
      maxFieldsPerBucket = Math.max(maxFieldsPerBucket, n);
      if (sizedBuckets < SIZE_BUCKETS) {
        sizedBuckets++;
        sizing.push(keys[j] as Buffer);
      }
    });
    const sizes = await pipelinePerKey(redis, sizing, (pipe, k) => pipe.hrandfieldBuffer(k, SIZE_SAMPLE, 'WITHVALUES'));
    for (const [reply] of sizes) {
      const flat = (reply?.[1] ?? []) as Buffer[];
      for (let f = 0; f + 1 < flat.length; f += 2) {
        const field = flat[f] as Buffer;
        const value = flat[f + 1] as Buffer;
        maxField = Math.max(maxField ?? 0, field.length);
        valueSizes.push(value.length);
        if (field.length > limit) fieldsOver++;
        if (value.length > limit) valuesOver++;
        if (value.length > limit && value.length > (largest?.length ?? 0)) largest = value;
        const name = serializerOf(flat[f + 1] as Buffer);
        serializers[name] = (serializers[name] ?? 0) + 1;
      }
    }
    const t = await scanBuckets(redis, keys, { cutoff: Date.now(), graceMs: 0, remove: false });
    expired += t.expired;
  }
  const scale = exact ? 1 : target.buckets / Math.max(keysToVisit.length, 1);
  valueSizes.sort((a, b) => a - b);
  return {
    mode: 'hash' as const,
    exact,
    sampledBuckets: keysToVisit.length,
    buckets: target.buckets,
    bucketsInUse: Math.round(inUse * scale),
    sessions: Math.round((fields - expired) * scale),
    expiredNotSwept: Math.round(expired * scale),
    encodings,
    bytesPerSession: fields > 0 ? Math.round(bytes / fields) : null,
    entries: {
      sampledFields: valueSizes.length,
      maxValueBytes: valueSizes.at(-1) ?? null,
      p95ValueBytes: valueSizes[Math.min(valueSizes.length - 1, Math.floor(valueSizes.length * 0.95))] ?? null,
      maxFieldBytes: maxField,
      valuesOverLimit: valuesOver,
      fieldsOverLimit: fieldsOver,
      maxFieldsPerBucket,
      serializers,
    },
    limits,
    hashtables: await hashtableCauses(target.client, hashtableKeys, limits),
    largestValue: largest ? valueMakeup(largest) : null,
  };
}
