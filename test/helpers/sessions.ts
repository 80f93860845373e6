import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { decodeEnvelope, encodeEnvelope } from '../../src/codec/envelope.js';
import { bucketKey, bucketWidth, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { isTombstone, STRING_TOMBSTONE_FIELD } from '../../src/modes/tombstone.js';
import { keysUnder } from './redis.js';

export const sid = (): string => randomBytes(24).toString('base64url');

/** The userId option of the log-out tests: a session's `user` field. */
export const owner = (s: Record<string, unknown>) => s.user as string | undefined;

/** A session of `user` (none: anonymous) whose cookie ends maxAgeMs from now, with `extra` fields. */
export function ownedSession(user: string | undefined, maxAgeMs = 60_000, extra: Record<string, unknown> = {}) {
  return {
    cookie: { originalMaxAge: maxAgeMs, expires: new Date(Date.now() + maxAgeMs).toISOString() },
    ...(user ? { user } : {}),
    ...extra,
  };
}

/**
 * Plants `count` hash-mode sessions that expired 2 s ago where a store with this prefix would put
 * them (written through the store with a short TTL, the whole bucket could expire before a sweep).
 * Works on any client: on a Cluster each HSET is routed to the node of its bucket.
 */
export async function plantExpired(client: Redis | Cluster, prefix: string, count: number, buckets = 65536) {
  const value = encodeEnvelope(
    { serializer: 0, compressor: 0, expiresAt: Date.now() - 2000 },
    Buffer.from('{"old":1}'),
  );
  const width = bucketWidth(buckets);
  for (let i = 0; i < count; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, count - i) }, () => {
        const key = defaultKeyGenerator(sid());
        return client.hset(bucketKey(Buffer.from(prefix), defaultBucketOf(key, buckets), width), key, value);
      }),
    );
  }
}

/**
 * Plants hash-mode sessions where the store would put them: `expired` ones (expired a minute ago)
 * and `live` ones (an hour to go), for sweeps to find.
 */
export async function plantSessions(
  client: Redis,
  prefix: string,
  buckets: number,
  expired: number,
  live: number,
): Promise<void> {
  const now = Date.now();
  const old = encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: now - 60_000 }, Buffer.from('{"u":1}'));
  const fresh = encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: now + 3_600_000 }, Buffer.from('{"u":2}'));
  const width = bucketWidth(buckets);
  for (let start = 0; start < expired + live; start += 5000) {
    const pipe = client.pipeline();
    for (let i = start; i < Math.min(start + 5000, expired + live); i++) {
      const key = defaultKeyGenerator(sid());
      pipe.hset(bucketKey(Buffer.from(prefix), defaultBucketOf(key, buckets), width), key, i < expired ? old : fresh);
    }
    await pipe.exec();
  }
}

/** Fields (sessions) in every bucket under the prefix (hashes only: the store's manifest is a string). */
export async function countFields(client: Redis, prefix: string): Promise<number> {
  let n = 0;
  for (const k of await keysUnder(client, prefix)) if ((await client.type(k)) === 'hash') n += await client.hlen(k);
  return n;
}

/** Where a store with default keys puts this id: a string key, or a bucket hash and its field. */
function locationOf(prefix: string, mode: 'hash' | 'string', id: string, buckets: number) {
  const key = defaultKeyGenerator(id);
  if (mode === 'string') return { key: Buffer.concat([Buffer.from(prefix), key]), field: null };
  return { key: bucketKey(Buffer.from(prefix), defaultBucketOf(key, buckets), bucketWidth(buckets)), field: key };
}

/** Writes bytes exactly where a store with default keys (65536 buckets unless said) looks for this id. */
export async function plantValue(
  client: Redis,
  prefix: string,
  mode: 'hash' | 'string',
  id: string,
  value: Buffer,
  buckets = 65536,
): Promise<void> {
  const at = locationOf(prefix, mode, id, buckets);
  if (at.field === null) await client.set(at.key, value, 'PX', 60_000);
  else await client.hset(at.key, at.field, value);
}

/** The bytes stored for this id (default keys, 65536 buckets unless said), or null. */
export function storedValue(
  client: Redis,
  prefix: string,
  mode: 'hash' | 'string',
  id: string,
  buckets = 65536,
): Promise<Buffer | null> {
  const at = locationOf(prefix, mode, id, buckets);
  return at.field === null ? stringOrTombstone(client, at.key) : client.hgetBuffer(at.key, at.field);
}

/**
 * A string-mode key's bytes: the session, or a tombstone (a one-field hash; a string from earlier
 * versions, see src/modes/tombstone.ts) as its 8 bytes.
 */
export async function stringOrTombstone(client: Redis | Cluster, key: Buffer | string): Promise<Buffer | null> {
  if ((await client.type(key)) === 'hash') return client.hgetBuffer(key, STRING_TOMBSTONE_FIELD);
  return client.getBuffer(key);
}

/**
 * What a store with this prefix and mode holds for a session id (default key scheme, 65536
 * buckets): the stored value and the milliseconds it has left in Redis (the key's PTTL in string
 * mode, -1 when it has none; the expiry in the value in hash mode), or null when no session is
 * stored (nothing, or the tombstone a destroy leaves).
 */
export async function storedLife(
  client: Redis,
  prefix: string,
  mode: 'hash' | 'string',
  id: string,
): Promise<{ value: Buffer; lifeMs: number } | null> {
  const key = defaultKeyGenerator(id);
  if (mode === 'string') {
    const redisKey = Buffer.concat([Buffer.from(prefix), key]);
    const value = await stringOrTombstone(client, redisKey);
    return value === null || isTombstone(value) ? null : { value, lifeMs: await client.pttl(redisKey) };
  }
  const bucket = bucketKey(Buffer.from(prefix), defaultBucketOf(key, 65536), bucketWidth(65536));
  const value = await client.hgetBuffer(bucket, key);
  if (value === null || isTombstone(value)) return null;
  const { expiresAt } = decodeEnvelope(value);
  return { value, lifeMs: expiresAt === null ? -1 : expiresAt - Date.now() };
}
