import type { RedisClient } from '../redis/connections.js';
import { sendBuffer, sendBufferOr } from '../redis/fast-command.js';
import { scanPrefix } from '../redis/scan.js';
import { ownedKeys, withScripts } from '../redis/scripts.js';
import type { StorageMode, WriteOutcome } from './mode.js';
import { destroySession, NO_FIELD, shortenSession, touchSession, writeSession } from './session-scripts.js';
import { isTombstone, STRING_TOMBSTONE_FIELD, TOMBSTONE_MIN_MS } from './tombstone.js';
import { walkStrings } from './walk.js';

const GT = Buffer.from('GT');
const PX = Buffer.from('PX');
const GET = Buffer.from('GET');

const isWrongType = (err: Error) => typeof err?.message === 'string' && err.message.startsWith('WRONGTYPE');

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

  /** Sessions counted (or deleted); clear() deletes tombstones too, which are hashes (tombstone.ts). */
  async function forEachOwned(remove: boolean): Promise<number> {
    let total = 0;
    for (const type of remove ? (['string', 'hash'] as const) : (['string'] as const)) {
      for await (const found of scanPrefix(redis(), prefix, type, scanCount)) {
        const keys = found.filter((k) => isKey(k.subarray(prefix.length)));
        if (keys.length > 0) total += await ownedKeys(redis(), keys, remove, true);
      }
    }
    return total;
  }

  /** A non-string at a session's key: our tombstone's bytes, or the GET's error for anything else. */
  async function readTombstone(redisKey: Buffer, err: Error): Promise<Buffer | null> {
    const value = (await sendBuffer(client(), 'hget', [redisKey, STRING_TOMBSTONE_FIELD])) as Buffer | null;
    if (value !== null && isTombstone(value)) return value;
    // the tombstone ended between the two reads: nothing is there now
    if (value === null && (await sendBuffer(client(), 'exists', [redisKey])) === 0) return null;
    throw err;
  }

  /**
   * After a plain save, what it wrote over: a tombstone written by an earlier version was a
   * string (tombstone.ts), so SET went through; the id is buried again at once.
   */
  function landed(key: Buffer, old: Buffer | null): WriteOutcome | Promise<WriteOutcome> {
    if (old === null || !isTombstone(old)) return 'stored';
    // as long as the old one had left, at least (its "dead until" at bytes 2..7)
    const now = Date.now();
    const left = old.length >= 8 ? old.readUIntBE(2, 6) - now : 0;
    return destroySession(
      client(),
      { key, field: NO_FIELD },
      { now, condition: { is: 'any' }, minLifeMs: Math.max(TOMBSTONE_MIN_MS, left) },
    ).then(() => 'dead' as const);
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
    // A tombstone is a hash (tombstone.ts): GET fails on it, and it reads as its bytes.
    read: (redisKey) =>
      sendBufferOr(client(), 'get', [redisKey], (err) =>
        isWrongType(err) ? readTombstone(redisKey, err) : null,
      ) as Promise<Buffer | null>,
    write(key, value, ttlMs, now, index) {
      if (index) return writeSession(client(), { key, field: NO_FIELD }, value, ttlMs, now, noSweep, index);
      // The plain save is one plain command: SET ... GET refuses to write over anything but a
      // string (WRONGTYPE), so a tombstone stops it. The script then says what was there.
      return sendBufferOr(client(), 'set', [key, value, PX, ttlMs, GET], (err) =>
        isWrongType(err) ? writeSession(client(), { key, field: NO_FIELD }, value, ttlMs, now, noSweep) : null,
      ).then((old) => (old === 'stored' || old === 'dead' ? old : landed(key, old as Buffer | null)));
    },
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
