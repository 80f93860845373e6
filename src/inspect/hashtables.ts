import { createCodec } from '../codec/codec.js';
import { compact2Serializer } from '../codec/compact2/index.js';
import { jsonSerializer } from '../codec/serializers.js';
import type { RedisClient } from '../redis/connections.js';
import type { ListpackLimits } from './listpack.js';

/*
 * Why hash-mode buckets are hashtables, bucket by bucket: a value over hash-max-listpack-value, a
 * field (the session key) over it, more fields than hash-max-listpack-entries, or none of these
 * any more (an entry that converted the bucket has gone since: Redis never converts back while
 * running). And, for the largest stored value, which session members make it large.
 */

/** Redis's defaults, assumed when CONFIG GET is not allowed. */
export const DEFAULT_LIMITS: ListpackLimits = { value: 64, entries: 512 };
/** Hashtable buckets looked at entry by entry, and entries read from each at most. */
const BUCKETS_LOOKED_AT = 32;
const FIELDS_PER_BUCKET = 2048;

export interface HashtableCauses {
  /** Hashtable buckets looked at entry by entry (up to 32 of those seen). */
  examined: number;
  /** Of those: holding a value over the limit / a field over it / too many fields / none of these now. */
  value: number;
  field: number;
  entries: number;
  earlier: number;
  /** The largest value and field found in them, in bytes. */
  maxValueBytes: number;
  maxFieldBytes: number;
  /** Limits assumed (Redis's defaults) because CONFIG GET was not allowed. */
  limitsAssumed: boolean;
}

export async function hashtableCauses(
  client: RedisClient,
  keys: Buffer[],
  limits: ListpackLimits | null,
): Promise<HashtableCauses | null> {
  if (keys.length === 0) return null;
  const lim = limits ?? DEFAULT_LIMITS;
  const out: HashtableCauses = {
    examined: 0,
    value: 0,
    field: 0,
    entries: 0,
    earlier: 0,
    maxValueBytes: 0,
    maxFieldBytes: 0,
    limitsAssumed: limits === null,
  };
  for (const key of keys.slice(0, BUCKETS_LOOKED_AT)) {
    let cursor = '0';
    let fields = 0;
    let maxValue = 0;
    let maxField = 0;
    do {
      const [next, flat] = (await client.hscanBuffer(key, cursor, 'COUNT', 256)) as [Buffer, Buffer[]];
      cursor = next.toString();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        maxField = Math.max(maxField, (flat[i] as Buffer).length);
        maxValue = Math.max(maxValue, (flat[i + 1] as Buffer).length);
      }
      fields += flat.length / 2;
    } while (cursor !== '0' && fields < FIELDS_PER_BUCKET);
    if (fields === 0) continue; // gone meanwhile
    out.examined++;
    const len = cursor === '0' ? fields : Number(await client.hlen(key));
    const byValue = maxValue > lim.value;
    const byField = maxField > lim.value;
    const byEntries = len > lim.entries;
    if (byValue) out.value++;
    if (byField) out.field++;
    if (byEntries) out.entries++;
    if (!byValue && !byField && !byEntries) out.earlier++;
    out.maxValueBytes = Math.max(out.maxValueBytes, maxValue);
    out.maxFieldBytes = Math.max(out.maxFieldBytes, maxField);
  }
  return out.examined > 0 ? out : null;
}

/** Reads any value the built-in codecs wrote (custom codecs are not known here). */
const reader = createCodec({ serializer: jsonSerializer, compressor: null, compressMinLength: 0 });

export interface ValueMakeup {
  /** The value's size as stored. */
  bytes: number;
  /** Its size written with serializer 'compact' (format 2), envelope included. */
  compactBytes: number;
  /** The session's top-level members that take the most room (compact bytes each), largest first. */
  largest: Array<{ member: string; bytes: number }>;
}

/**
 * What a stored value is made of: its largest members (names only: never the contents, which may
 * be secrets) and what 'compact' would store. Null for values the built-in codecs cannot read.
 */
export function valueMakeup(value: Buffer): ValueMakeup | null {
  let decoded: { session: unknown; expiresAt: number | null };
  try {
    const d = reader.decode(value);
    if (d instanceof Promise) return null;
    decoded = d;
  } catch {
    return null;
  }
  const session = decoded.session as Record<string, unknown>;
  const compact = createCodec({ serializer: compact2Serializer, compressor: null, compressMinLength: 0 });
  const size = (s: object) => (compact.encode(s, decoded.expiresAt) as Buffer).length;
  const empty = size({});
  const largest = Object.keys(session)
    // names only, cut short: a name is the app's own choice of key, never the data under it
    .map((member) => ({
      member: member.length > 40 ? `${member.slice(0, 40)}…` : member,
      bytes: size({ [member]: session[member] }) - empty,
    }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3);
  return { bytes: value.length, compactBytes: size(session), largest };
}
