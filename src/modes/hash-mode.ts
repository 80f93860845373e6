import { bucketIndexOf, bucketKey, bucketWidth } from '../keys/buckets.js';
import type { RedisClient } from '../redis/connections.js';
import { scanPrefix } from '../redis/scan.js';
import { type ScriptedClient, scriptedPipeline, withScripts } from '../redis/scripts.js';
import type { StorageMode } from './mode.js';

export interface HashLocation {
  bucket: Buffer;
  field: Buffer;
}

export interface HashModeSetup {
  prefix: Buffer;
  buckets: number;
  /** key -> bucket index in [0, buckets) */
  bucketOf: (key: Buffer) => number;
}

/** HSCAN COUNT per bucket_scan.lua call: bounds the work of one script call on a big bucket. */
export const SCAN_SLICE = 500;

/**
 * Walks one bucket with bucket_scan.lua until its cursor returns to 0. cutoff '' means the
 * server's clock minus graceMs. Returns the summed counters.
 */
export async function scanBucket(
  redis: ScriptedClient,
  bucket: Buffer,
  opts: { cutoff: number | ''; graceMs: number; remove: boolean },
): Promise<{ scanned: number; expired: number; live: number }> {
  const total = { scanned: 0, expired: 0, live: 0 };
  let cursor = '0';
  do {
    const reply = (await redis.rsBucketScan(
      bucket,
      cursor,
      SCAN_SLICE,
      String(opts.cutoff),
      opts.graceMs,
      opts.remove ? '1' : '0',
    )) as [string | Buffer, number, number, number];
    cursor = reply[0].toString();
    total.scanned += reply[1];
    total.expired += reply[2];
    total.live += reply[3];
  } while (cursor !== '0');
  return total;
}

/**
 * Sessions as fields of `buckets` hashes. Small hashes are listpacks, far cheaper per session than
 * a key each; fields have no TTL before Redis 7.4, so expiry lives in the value (see envelope.ts).
 */
export function hashMode(client: RedisClient, setup: HashModeSetup): StorageMode<HashLocation> {
  const redis = withScripts(client);
  const { prefix, buckets, bucketOf } = setup;
  const width = bucketWidth(buckets);

  async function* ownBuckets(): AsyncGenerator<Buffer[]> {
    for await (const keys of scanPrefix(redis, prefix, 'hash')) {
      const mine = keys.filter((k) => bucketIndexOf(k, prefix, width, buckets) !== null);
      if (mine.length > 0) yield mine;
    }
  }

  return {
    name: 'hash',
    storesExpiry: true,
    locate(key) {
      const index = bucketOf(key);
      if (!Number.isInteger(index) || index < 0 || index >= buckets) {
        throw new RangeError(`hashKeyGenerator returned ${String(index)}, not an integer in [0, ${buckets})`);
      }
      return { bucket: bucketKey(prefix, index, width), field: key };
    },
    read: ({ bucket, field }) => redis.hgetBuffer(bucket, field),
    async write({ bucket, field }, value, ttlMs) {
      await redis.rsHashSet(bucket, field, value, ttlMs);
    },
    async refresh({ bucket, field }, value, ttlMs, now) {
      return (await redis.rsHashTouch(bucket, field, value, ttlMs, now)) === 1;
    },
    async remove({ bucket, field }) {
      await redis.hdel(bucket, field);
    },
    async count(now) {
      let live = 0;
      for await (const keys of ownBuckets()) {
        const counts = await Promise.all(
          keys.map((k) => scanBucket(redis, k, { cutoff: now, graceMs: 0, remove: false })),
        );
        for (const c of counts) live += c.live;
      }
      return live;
    },
    async clear() {
      let removed = 0;
      for await (const keys of ownBuckets()) {
        const pipe = scriptedPipeline(redis);
        for (const k of keys) pipe.rsKeyOwned(k, '1');
        for (const [err, owned] of (await pipe.exec()) ?? []) {
          if (err) throw err;
          removed += owned === 1 ? 1 : 0;
        }
      }
      return removed;
    },
  };
}
