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
const pct = (part: number, whole: number) => `${Math.round((part / Math.max(whole, 1)) * 100)}%`;

/** A listpack problem found in a hash-mode store, and what to change. */
export interface ListpackIssue {
  check: 'listpack-value' | 'listpack-field' | 'listpack-entries' | 'encoding';
  problem: string;
  fix: string;
}

type Measured = Pick<HashStats, 'encodings' | 'entries' | 'limits' | 'buckets' | 'bucketsInUse' | 'sessions'> &
  Partial<Pick<HashStats, 'hashtables' | 'largestValue'>>;

const raiseLimit = (bytes: number) =>
  `CONFIG SET hash-max-listpack-value ${nextPowerOfTwo(bytes)} and the same in redis.conf`;

/** What makes values smaller, or else the limit that fits them. */
function valueFix(s: Measured, maxBytes: number): string {
  const e = s.entries;
  const compactAlready = Object.keys(e.serializers).every((name) => name === 'compact');
  const compact = s.largestValue?.compactBytes;
  if (compactAlready) return `raise the limit (values are already 'compact'): ${raiseLimit(maxBytes)}`;
  const would = compact === undefined ? '' : ` (the largest would be ${compact} bytes)`;
  return `store smaller values (serializer: 'compact'${would}), or raise the limit: ${raiseLimit(maxBytes)}`;
}

/** Long fields: ids the key scheme cannot shorten. */
const fieldFix = (maxBytes: number) =>
  `raise the limit: ${raiseLimit(maxBytes)}; or store a keyed hash of each id instead (option idSecret: every ` +
  `field becomes 25 bytes, but turning it on logs everyone out once: their sessions are under the old keys)`;

const entriesFix = (s: Measured, entries: number) =>
  `raise the buckets option to ${nextPowerOfTwo((s.sessions * 4) / entries)} (and SESSION_BUCKETS to match: ` +
  `about a quarter of hash-max-listpack-entries per bucket), or raise hash-max-listpack-entries`;

/** What keeps buckets from being (or staying) listpacks, given what was measured. */
export function listpackIssues(s: Measured): ListpackIssue[] {
  const issues: ListpackIssue[] = [];
  const { entries: e, limits } = s;
  if (limits && e.maxValueBytes !== null && e.maxValueBytes > limits.value) {
    const makeup = s.largestValue?.largest.map((m) => `${JSON.stringify(m.member)} ${m.bytes} B`).join(', ');
    issues.push({
      check: 'listpack-value',
      problem:
        `${e.valuesOverLimit} of ${e.sampledFields} sampled sessions (${pct(e.valuesOverLimit, e.sampledFields)}) are ` +
        `over hash-max-listpack-value ${limits.value} as stored: up to ${e.maxValueBytes} bytes (95% are at most ` +
        `${e.p95ValueBytes}); a bucket holding one is a hashtable` +
        (makeup ? `. The largest is mostly ${makeup} (members as 'compact' stores them)` : ''),
      fix: valueFix(s, e.maxValueBytes),
    });
  }
  if (limits && e.maxFieldBytes !== null && e.maxFieldBytes > limits.value) {
    issues.push({
      check: 'listpack-field',
      problem:
        `session keys (the hash fields) reach ${e.maxFieldBytes} bytes, over hash-max-listpack-value ${limits.value} ` +
        `(${e.fieldsOverLimit} of ${e.sampledFields} sampled): a bucket holding one is a hashtable whatever its ` +
        `values. Session ids the key scheme cannot shorten (not hex, base64url or a UUID) are stored as they ` +
        `are, plus one byte`,
      fix: fieldFix(e.maxFieldBytes),
    });
  }
  const perBucket = s.bucketsInUse > 0 ? s.sessions / s.buckets : 0;
  if (limits && (e.maxFieldsPerBucket > limits.entries || perBucket > limits.entries * 0.75)) {
    issues.push({
      check: 'listpack-entries',
      problem:
        `buckets hold up to ${e.maxFieldsPerBucket} sessions (about ${Math.round(perBucket)} on average), ` +
        `against hash-max-listpack-entries ${limits.entries}`,
      fix: entriesFix(s, limits.entries),
    });
  }
  const hashtables = s.encodings.hashtable ?? 0;
  if (hashtables > 0) issues.push(encodingIssue(s, hashtables));
  return issues;
}

/** Hashtable buckets: how many, why (each cause counted from the buckets looked at), and each cause's fix. */
function encodingIssue(s: Measured, hashtables: number): ListpackIssue {
  const seen = Object.values(s.encodings).reduce((a, b) => a + b, 0);
  let problem = `${hashtables} of the ${seen} buckets seen (${pct(hashtables, seen)}) are hashtables, not listpacks: hash mode's memory saving is lost there`;
  const c = s.hashtables;
  if (!c) {
    return {
      check: 'encoding',
      problem,
      fix:
        "remove the cause (values or fields over hash-max-listpack-value: serializer 'compact', idSecret or a higher " +
        'limit; buckets over hash-max-listpack-entries: more buckets); a hashtable bucket turns back into a listpack ' +
        'only when Redis rewrites it (a restart that loads the data)',
    };
  }
  const lim = s.limits ?? { value: 64, entries: 512 };
  const causes: string[] = [];
  const fixes: string[] = [];
  if (c.value > 0) {
    causes.push(`${c.value} hold a value over ${lim.value} bytes (the largest ${c.maxValueBytes})`);
    fixes.push(`values: ${valueFix(s, c.maxValueBytes)}`);
  }
  if (c.field > 0) {
    causes.push(`${c.field} a field (session key) over ${lim.value} bytes (the largest ${c.maxFieldBytes})`);
    fixes.push(`fields: ${fieldFix(c.maxFieldBytes)}`);
  }
  if (c.entries > 0) {
    causes.push(`${c.entries} more than ${lim.entries} sessions`);
    fixes.push(`entries: ${entriesFix(s, lim.entries)}`);
  }
  if (c.earlier > 0) {
    causes.push(
      `${c.earlier} none of these any more (converted by an entry since removed or rewritten, such as an OAuth state kept during a login)`,
    );
    fixes.push(
      'those turn back into listpacks only when Redis rewrites them (a restart that loads the RDB or AOF); find what ' +
        "converted them (a large member that comes and goes: see the largest values' members) and keep it under the limit, or raise the limit",
    );
  }
  problem +=
    `. Of ${c.examined} looked at entry by entry${c.limitsAssumed ? " (assuming Redis's default limits: CONFIG GET is not allowed)" : ''}: ` +
    `${causes.join('; ')}`;
  return { check: 'encoding', problem, fix: fixes.join(' | ') };
}
