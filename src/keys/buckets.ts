/** Upper bound for the `buckets` option: bucket indexes are written in at most 3 bytes. */
export const MAX_BUCKETS = 2 ** 24;

/** Bytes needed to write every bucket index 0..buckets-1. */
export function bucketWidth(buckets: number): number {
  if (buckets <= 0x100) return 1;
  if (buckets <= 0x10000) return 2;
  return 3;
}

/*
 * Bucket keys start with the store's prefix and a marker byte no human-chosen prefix contains, so
 * the buckets of a store with prefix "sess:a" never pass for those of a store with prefix "sess:":
 *
 *   prefix 0x00 <index, big-endian, bucketWidth bytes>    numbered bucket (the default scheme)
 *   prefix 0x01 <bytes>                                   named bucket (a hashKeyGenerator returning bytes)
 */
export const NUMBERED_BUCKET = 0x00;
export const NAMED_BUCKET = 0x01;
/** Longest name a hashKeyGenerator may return. */
export const MAX_BUCKET_NAME = 64;

/** The key of numbered bucket `index` (65536 buckets: prefix + 3 bytes). */
export function bucketKey(prefix: Buffer, index: number, width: number): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + 1 + width);
  out.set(prefix, 0);
  let at = prefix.length;
  out[at++] = NUMBERED_BUCKET;
  for (let shift = 8 * (width - 1); shift >= 0; shift -= 8) out[at++] = (index >>> shift) & 0xff;
  return out;
}

/** The key of a named bucket (the seed's HASH_KEY_GENERATOR returned a key: this is that key). */
export function namedBucketKey(prefix: Buffer, name: Buffer): Buffer {
  return Buffer.concat([prefix, Buffer.of(NAMED_BUCKET), name]);
}

function startsWith(key: Buffer, prefix: Buffer, marker: number): boolean {
  return (
    key.length > prefix.length + 1 && key[prefix.length] === marker && key.subarray(0, prefix.length).equals(prefix)
  );
}

/** The index of a numbered bucket key of this store, or null when it is not one. */
export function bucketIndexOf(key: Buffer, prefix: Buffer, width: number, buckets: number): number | null {
  if (key.length !== prefix.length + 1 + width || !startsWith(key, prefix, NUMBERED_BUCKET)) return null;
  const index = key.readUIntBE(prefix.length + 1, width);
  return index < buckets ? index : null;
}

/** Whether a key is a named bucket of this store. */
export function isNamedBucket(key: Buffer, prefix: Buffer): boolean {
  return key.length <= prefix.length + 1 + MAX_BUCKET_NAME && startsWith(key, prefix, NAMED_BUCKET);
}

/**
 * Which numbered range a bucket key belongs to, for sharding sweeps: its own index, or for a named
 * bucket a stable hash of its name. null when the key is no bucket of this store.
 */
export function shardIndexOf(key: Buffer, prefix: Buffer, width: number, buckets: number): number | null {
  const index = bucketIndexOf(key, prefix, width, buckets);
  if (index !== null) return index;
  return isNamedBucket(key, prefix) ? mix32(key.subarray(prefix.length + 1)) % buckets : null;
}

// FNV-1a followed by murmur3's finaliser: cheap, and sequential ids still spread evenly.
function mix32(bytes: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
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
