import { bucketKey, bucketWidth, MAX_BUCKET_NAME, namedBucketKey, shardIndexOf } from '../keys/buckets.js';
import type { RedisClient } from '../redis/connections.js';
import { sendBuffer } from '../redis/fast-command.js';
import { scanPrefix } from '../redis/scan.js';
import { ownedKeys, withScripts } from '../redis/scripts.js';
import { scanBuckets } from '../sweep/bucket-scan.js';
import type { StorageMode } from './mode.js';
import { destroySession, shortenSession, touchSession, writeSession } from './session-scripts.js';
import { walkBuckets } from './walk.js';

export interface HashLocation {
  bucket: Buffer;
  field: Buffer;
}

export interface HashModeSetup {
  prefix: Buffer;
  buckets: number;
  /** key -> bucket index in [0, buckets), or the bytes naming a bucket (a custom hashKeyGenerator) */
  bucketOf: (key: Buffer) => number | Buffer | Uint8Array | string;
  /** Share of writes (0..1) that also clean expired sessions out of the bucket written to. */
  inlineSweep: number;
  /** The in-line sweep's (and the user index's) allowance for web servers' clocks running behind. */
  graceMs: number;
  /** SCAN / HSCAN COUNT of the walks (length, clear, entries). @default 1000 */
  scanCount?: number;
}

/** Fields an in-line sweep checks: bounded, and about a whole listpack bucket at 1M sessions. */
export const INLINE_SWEEP_SAMPLE = 16;

/**
 * Sessions as fields of `buckets` hashes. Small hashes are listpacks, far cheaper per session than
 * a key each; fields have no TTL before Redis 7.4, so expiry lives in the value (see envelope.ts).
 */
export function hashMode(client: () => RedisClient, setup: HashModeSetup): StorageMode<HashLocation> {
  const redis = () => withScripts(client());
  const { prefix, buckets, bucketOf, inlineSweep, graceMs, scanCount = 1000 } = setup;
  const width = bucketWidth(buckets);

  async function* ownBuckets(): AsyncGenerator<Buffer[]> {
    for await (const keys of scanPrefix(client(), prefix, 'hash', scanCount)) {
      const mine = keys.filter((k) => shardIndexOf(k, prefix, width, buckets) !== null);
      if (mine.length > 0) yield mine;
    }
  }

  const inlineSample = () => (inlineSweep > 0 && Math.random() < inlineSweep ? INLINE_SWEEP_SAMPLE : 0);
  const at = ({ bucket, field }: HashLocation) => ({ key: bucket, field });

  function locate(key: Buffer): HashLocation {
    const bucket = bucketOf(key);
    if (typeof bucket === 'number') {
      if (!Number.isInteger(bucket) || bucket < 0 || bucket >= buckets) {
        throw new RangeError(`hashKeyGenerator returned ${bucket}, not an integer in [0, ${buckets})`);
      }
      return { bucket: bucketKey(prefix, bucket, width), field: key };
    }
    const bytes =
      typeof bucket === 'string'
        ? Buffer.from(bucket, 'utf8')
        : bucket instanceof Uint8Array
          ? Buffer.from(bucket)
          : null;
    if (!bytes || bytes.length === 0 || bytes.length > MAX_BUCKET_NAME) {
      throw new RangeError(`hashKeyGenerator must return a bucket index or 1..${MAX_BUCKET_NAME} bytes`);
    }
    return { bucket: namedBucketKey(prefix, bytes), field: key };
  }

  return {
    name: 'hash',
    storesExpiry: true,
    locate,
    keyRoom: 0,
    locateAt: locate,
    keyOf: ({ bucket }) => bucket,
    read: ({ bucket, field }) => sendBuffer(client(), 'hget', [bucket, field]) as Promise<Buffer | null>,
    write: (loc, value, ttlMs, now, index) =>
      writeSession(client(), at(loc), value, ttlMs, now, { sample: inlineSample(), graceMs }, index),
    refresh: (loc, expiresAt, ttlMs, now, index) =>
      touchSession(client(), at(loc), expiresAt, ttlMs, now, graceMs, index),
    shorten: (loc, expected, expiresAt, ttlMs, now, index) =>
      shortenSession(client(), at(loc), expected, expiresAt, ttlMs, now, graceMs, index),
    destroy: (loc, options) => destroySession(client(), at(loc), options),
    removeIfSame: async ({ bucket, field }, value) => (await redis().rsDeleteIfSame(bucket, value, field)) === 1,
    async count(now) {
      let live = 0;
      for await (const keys of ownBuckets()) {
        live += (await scanBuckets(redis(), keys, { cutoff: now, graceMs: 0, remove: false })).live;
      }
      return live;
    },
    async clear() {
      let removed = 0;
      for await (const keys of ownBuckets()) removed += await ownedKeys(redis(), keys, true);
      return removed;
    },
    entries: () => walkBuckets(client, ownBuckets(), scanCount),
  };
}
