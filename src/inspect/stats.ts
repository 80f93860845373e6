import { decodeEnvelope } from '../codec/envelope.js';
import { BUILTIN_SERIALIZER_IDS } from '../codec/serializers.js';
import { bucketKey, bucketWidth, shardIndexOf } from '../keys/buckets.js';
import type { RedisClient } from '../redis/connections.js';
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
  /** Sizes of stored entries, from up to SIZE_SAMPLE fields of each of the first SIZE_BUCKETS buckets in use. */
  entries: EntrySizes;
  /** The server's listpack thresholds, when CONFIG GET is allowed. */
  limits: ListpackLimits | null;
  /** What to change when buckets are not (or will not stay) listpacks: hash mode's memory advantage is lost. */
  advice: string[];
}

export interface EntrySizes {
  sampledFields: number;
  /** Stored value bytes (envelope included): what hash-max-listpack-value is compared with. */
  maxValueBytes: number | null;
  p95ValueBytes: number | null;
  maxFieldBytes: number | null;
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

export interface ListpackLimits {
  /** hash-max-listpack-value (hash-max-ziplist-value before Redis 7) */
  value: number;
  /** hash-max-listpack-entries */
  entries: number;
}

const SIZE_SAMPLE = 8;
const SIZE_BUCKETS = 512;

/** The server's listpack thresholds, or null when CONFIG is not allowed (managed Redis, ACL). */
export async function listpackLimits(client: RedisClient): Promise<ListpackLimits | null> {
  try {
    const pairs = (await client.config('GET', 'hash-max-listpack-*')) as unknown as string[];
    const map = new Map<string, number>();
    for (let i = 0; i + 1 < pairs.length; i += 2) map.set(String(pairs[i]), Number(pairs[i + 1]));
    const value = map.get('hash-max-listpack-value');
    const entries = map.get('hash-max-listpack-entries');
    return value === undefined || entries === undefined ? null : { value, entries };
  } catch {
    return null;
  }
}

const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** A listpack problem found in a hash-mode store, and what to change. */
export interface ListpackIssue {
  check: 'listpack-value' | 'listpack-entries' | 'encoding';
  problem: string;
  fix: string;
}

/** What keeps buckets from being (or staying) listpacks, given what was measured. */
export function listpackIssues(
  s: Pick<HashStats, 'encodings' | 'entries' | 'limits' | 'buckets' | 'bucketsInUse' | 'sessions'>,
): ListpackIssue[] {
  const issues: ListpackIssue[] = [];
  const { entries: e, limits } = s;
  if (limits && e.maxValueBytes !== null && e.maxValueBytes > limits.value) {
    const compactAlready = Object.keys(e.serializers).every((name) => name === 'compact');
    const raise = `CONFIG SET hash-max-listpack-value ${nextPowerOfTwo(e.maxValueBytes)} and the same in redis.conf`;
    issues.push({
      check: 'listpack-value',
      problem:
        `stored sessions reach ${e.maxValueBytes} bytes (95% are at most ${e.p95ValueBytes}), over ` +
        `hash-max-listpack-value ${limits.value}: a bucket holding one is a hashtable`,
      fix: compactAlready
        ? `raise the limit (values are already 'compact'): ${raise}`
        : `store smaller values (serializer: 'compact'), or raise the limit: ${raise}`,
    });
  }
  const perBucket = s.bucketsInUse > 0 ? s.sessions / s.buckets : 0;
  if (limits && (e.maxFieldsPerBucket > limits.entries || perBucket > limits.entries * 0.75)) {
    issues.push({
      check: 'listpack-entries',
      problem:
        `buckets hold up to ${e.maxFieldsPerBucket} sessions (about ${Math.round(perBucket)} on average), ` +
        `against hash-max-listpack-entries ${limits.entries}`,
      fix: 'raise the buckets option (and SESSION_BUCKETS to match), or hash-max-listpack-entries',
    });
  }
  if ((s.encodings.hashtable ?? 0) > 0) {
    issues.push({
      check: 'encoding',
      problem: `${s.encodings.hashtable} of the buckets seen are hashtables, not listpacks: hash mode's memory saving is lost`,
      fix:
        "remove the cause (values over hash-max-listpack-value: serializer 'compact' or a higher limit; buckets " +
        'over hash-max-listpack-entries: more buckets); a hashtable bucket turns back into a listpack only when ' +
        'rewritten after a restart',
    });
  }
  return issues;
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
  const valueSizes: number[] = [];
  const serializers: Record<string, number> = {};
  let maxField: number | null = null;
  let maxFieldsPerBucket = 0;
  let sizedBuckets = 0;
  for (let i = 0; i < keysToVisit.length; i += 500) {
    const keys = keysToVisit.slice(i, i + 500);
    const pipe = redis.pipeline();
    for (const k of keys) {
      pipe.hlen(k);
      pipe.object('ENCODING', k);
      pipe.memory('USAGE', k, 'SAMPLES', '0');
    }
    const replies = (await pipe.exec()) ?? [];
    const sizing: Buffer[] = [];
    for (let j = 0; j < keys.length; j++) {
      const len = Number(replies[j * 3]?.[1] ?? 0);
      if (len === 0) continue;
      inUse++;
      fields += len;
      const enc = String(replies[j * 3 + 1]?.[1] ?? 'unknown');
      encodings[enc] = (encodings[enc] ?? 0) + 1;
      bytes += Number(replies[j * 3 + 2]?.[1] ?? 0);
      maxFieldsPerBucket = Math.max(maxFieldsPerBucket, len);
      if (sizedBuckets < SIZE_BUCKETS) {
        sizedBuckets++;
        sizing.push(keys[j] as Buffer);
      }
    }
    if (sizing.length > 0) {
      const sizes = redis.pipeline();
      for (const k of sizing) sizes.hrandfieldBuffer(k, SIZE_SAMPLE, 'WITHVALUES');
      for (const [, reply] of (await sizes.exec()) ?? []) {
        const flat = (reply ?? []) as Buffer[];
        for (let f = 0; f + 1 < flat.length; f += 2) {
          maxField = Math.max(maxField ?? 0, (flat[f] as Buffer).length);
          valueSizes.push((flat[f + 1] as Buffer).length);
          const name = serializerOf(flat[f + 1] as Buffer);
          serializers[name] = (serializers[name] ?? 0) + 1;
        }
      }
      sizing.length = 0;
    }
    const t = await scanBuckets(redis, keys, { cutoff: Date.now(), graceMs: 0, remove: false });
    expired += t.expired;
  }
  const scale = exact ? 1 : target.buckets / Math.max(keysToVisit.length, 1);
  valueSizes.sort((a, b) => a - b);
  const stats = {
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
      maxFieldsPerBucket,
      serializers,
    },
    limits: await listpackLimits(target.client),
  };
  return { ...stats, advice: listpackIssues(stats).map((i) => `${i.problem}; fix: ${i.fix}`) };
}
