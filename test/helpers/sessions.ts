import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { encodeEnvelope } from '../../src/codec/envelope.js';
import { bucketKey, bucketWidth, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';

export const sid = (): string => randomBytes(24).toString('base64url');

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
