import type { RedisClient } from '../redis/connections.js';
import { scanPrefix } from '../redis/scan.js';
import { scriptedPipeline, withScripts } from '../redis/scripts.js';
import type { StorageMode } from './mode.js';

/**
 * One Redis string per session: `SET prefix+key value PX ttl`, and Redis expires it.
 * `isKey` tells whether what follows the prefix in a scanned key can be one of our session keys.
 */
export function stringMode(
  client: () => RedisClient,
  prefix: Buffer,
  isKey: (key: Buffer) => boolean,
): StorageMode<Buffer> {
  const redis = () => withScripts(client());

  async function forEachOwned(remove: boolean): Promise<number> {
    let total = 0;
    for await (const found of scanPrefix(redis(), prefix, 'string')) {
      const keys = found.filter((k) => isKey(k.subarray(prefix.length)));
      if (keys.length === 0) continue;
      const pipe = scriptedPipeline(redis());
      for (const k of keys) pipe.rsKeyOwned(k, remove ? '1' : '0');
      for (const [err, owned] of (await pipe.exec()) ?? []) {
        if (err) throw err;
        total += owned === 1 ? 1 : 0;
      }
    }
    return total;
  }

  return {
    name: 'string',
    storesExpiry: false,
    locate: (key) => Buffer.concat([prefix, key]),
    read: (redisKey) => redis().getBuffer(redisKey),
    async write(redisKey, value, ttlMs) {
      await redis().set(redisKey, value, 'PX', ttlMs);
    },
    async refresh(redisKey, _expiresAt, ttlMs) {
      // Only the TTL: the stored data stays as the last set wrote it, and a key that is gone
      // (logged out meanwhile) stays gone.
      // GT: only ever extend, so a stale touch cannot cut short a longer life a concurrent set gave
      return (await redis().pexpire(redisKey, ttlMs, 'GT')) === 1;
    },
    async remove(redisKey) {
      await redis().unlink(redisKey);
    },
    count: () => forEachOwned(false),
    clear: () => forEachOwned(true),
  };
}
