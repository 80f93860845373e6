import type { RedisClient } from '../redis/connections.js';
import { sendBuffer } from '../redis/fast-command.js';
import { scanPrefix } from '../redis/scan.js';
import { ownedKeys, withScripts } from '../redis/scripts.js';
import type { StorageMode } from './mode.js';
import { destroySession, NO_FIELD, shortenSession, touchSession, writeSession } from './session-scripts.js';
import { walkStrings } from './walk.js';

const GT = Buffer.from('GT');

/**
 * One Redis string per session: `prefix+key` holding the value, with a TTL; Redis expires it.
 * `isKey` tells whether what follows the prefix in a scanned key can be one of our session keys.
 * `graceMs` is the index's clean-up allowance for web servers' clocks; `scanCount` the SCAN COUNT
 * of the walks (length, clear, entries).
 */
export function stringMode(
  client: () => RedisClient,
  prefix: Buffer,
  isKey: (key: Buffer) => boolean,
  graceMs: number,
  scanCount = 1000,
): StorageMode<Buffer> {
  const redis = () => withScripts(client());
  const noSweep = { sample: 0, graceMs };

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
    keyRoom: prefix.length,
    locateAt(buffer) {
      buffer.set(prefix, 0);
      return buffer;
    },
    keyOf: (redisKey) => redisKey,
    read: (redisKey) => sendBuffer(client(), 'get', [redisKey]) as Promise<Buffer | null>,
    write: (key, value, ttlMs, now, index) =>
      writeSession(client(), { key, field: NO_FIELD }, value, ttlMs, now, noSweep, index),
    refresh(key, expiresAt, ttlMs, now, index) {
      // The common case in one plain command: a later end (GT). A key that is gone stays gone, and
      // a tombstone only lives longer. Anything else (gone, earlier, an index) goes to the script.
      if (index) return touchSession(client(), { key, field: NO_FIELD }, expiresAt, ttlMs, now, graceMs, index);
      return sendBuffer(client(), 'pexpire', [key, ttlMs, GT]).then((done) =>
        done === 1 ? 'touched' : touchSession(client(), { key, field: NO_FIELD }, expiresAt, ttlMs, now, graceMs),
      );
    },
    shorten: (key, expected, expiresAt, ttlMs, now, index) =>
      shortenSession(client(), { key, field: NO_FIELD }, expected, expiresAt, ttlMs, now, graceMs, index),
    destroy: (key, options) => destroySession(client(), { key, field: NO_FIELD }, options),
    removeIfSame: async (redisKey, value) => (await redis().rsDeleteIfSame(redisKey, value)) === 1,
    count: () => forEachOwned(false),
    clear: () => forEachOwned(true),
    entries: () => walkStrings(client, prefix, isKey, scanCount),
  };
}
