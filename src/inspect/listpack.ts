import type { RedisClient } from '../redis/connections.js';
import type { HashStats } from './stats.js';

/*
 * Hash mode saves memory only while buckets are listpacks: every entry at most
 * hash-max-listpack-value bytes and at most hash-max-listpack-entries entries per bucket. Past
 * either, Redis converts the bucket to a hashtable for good (until rewritten after a restart).
 */

export interface ListpackLimits {
  /** hash-max-listpack-value (hash-max-ziplist-value before Redis 7) */
  value: number;
  /** hash-max-listpack-entries */
  entries: number;
}

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
