/** Upper bound for the `buckets` option: bucket indexes are written in at most 3 bytes. */
export const MAX_BUCKETS = 2 ** 24;

/** Bytes needed to write every bucket index 0..buckets-1. */
export function bucketWidth(buckets: number): number {
  if (buckets <= 0x100) return 1;
  if (buckets <= 0x10000) return 2;
  return 3;
}

/** Bucket hash key: the prefix followed by the big-endian bucket index (65536 buckets: 2 bytes). */
export function bucketKey(prefix: Buffer, index: number, width: number): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + width);
  prefix.copy(out, 0);
  out.writeUIntBE(index, prefix.length, width);
  return out;
}

/** The bucket index of a bucket key made by bucketKey, or null when it is not one of ours. */
export function bucketIndexOf(key: Buffer, prefix: Buffer, width: number, buckets: number): number | null {
  if (key.length !== prefix.length + width || !key.subarray(0, prefix.length).equals(prefix)) return null;
  const index = key.readUIntBE(prefix.length, width);
  return index < buckets ? index : null;
}

// FNV-1a followed by murmur3's finaliser: cheap, and sequential ids still spread evenly.
function mix32(bytes: Buffer): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The default hashKeyGenerator: which bucket a key lives in. The seed took the key's first bytes,
 * which clumps for ids that are not random (counters, 'user-42', base64url of a name); hashing the
 * whole key costs well under a microsecond and spreads every id style evenly.
 */
export function defaultBucketOf(key: Buffer, buckets: number): number {
  return mix32(key) % buckets;
}
