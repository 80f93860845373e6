import type { RedisClient } from '../redis/connections.js';
import { sendBuffer } from '../redis/fast-command.js';
import { scanPrefix } from '../redis/scan.js';
import { ownedKeys, withScripts } from '../redis/scripts.js';
import type { StorageMode } from './mode.js';
import { walkStrings } from './walk.js';

const PX = Buffer.from('PX');
const GT = Buffer.from('GT');

/**
 * One Redis string per session: `SET prefix+key value PX ttl`, and Redis expires it.
 * `isKey` tells whether what follows the prefix in a scanned key can be one of our session keys;
 * `scanCount` is the SCAN COUNT of the walks (length, clear, entries).
 */
export function stringMode(
  client: () => RedisClient,
  prefix: Buffer,
  isKey: (key: Buffer) => boolean,
  scanCount = 1000,
): StorageMode<Buffer> {
  const redis = () => withScripts(client());

  async function forEachOwned(remove: boolean): Promise<number> {
    let total = 0;
    for await (const found of scanPrefix(redis(), prefix, 'string', scanCount)) {
      const keys = found.filter((k) => isKey(k.subarray(prefix.length)));
      if (keys.length > 0) total += await ownedKeys(redis(), keys, remove);
    }
    return total;
  }

  return {
    name: 'string',
    storesExpiry: false,
    locate: (key) => Buffer.concat([prefix, key]),
    read: (redisKey) => sendBuffer(client(), 'get', [redisKey]) as Promise<Buffer | null>,
    write: (redisKey, value, ttlMs) => sendBuffer(client(), 'set', [redisKey, value, PX, ttlMs]),
    // Only the TTL: the data stays as the last set wrote it, a key that is gone stays gone, and
    // GT never shortens, so a stale touch cannot cut short the life a concurrent set gave
    refresh: (redisKey, _expiresAt, ttlMs) =>
      sendBuffer(client(), 'pexpire', [redisKey, ttlMs, GT]).then((n) => n === 1),
    queueWrite(tx, redisKey, value, ttlMs) {
      tx.set(redisKey, value, 'PX', ttlMs);
    },
    queueRefresh(tx, redisKey, _expiresAt, ttlMs) {
      tx.pexpire(redisKey, ttlMs, 'GT');
    },
    remove: (redisKey) => sendBuffer(client(), 'unlink', [redisKey]),
    removeIfSame: async (redisKey, value) => (await redis().rsDeleteIfSame(redisKey, value)) === 1,
    count: () => forEachOwned(false),
    clear: () => forEachOwned(true),
    entries: () => walkStrings(client, prefix, isKey, scanCount),
  };
}
