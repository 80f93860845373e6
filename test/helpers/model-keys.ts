import type { Cluster, Redis } from 'ioredis';
import { bucketKey, bucketWidth, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { userIndexKey } from '../../src/keys/user-index-key.js';

/**
 * Deletes what a store (default keys) keeps for these session ids and users: the sessions (or
 * their tombstones), the users' indexes and, with `legacyPrefix`, the connect-redis copies.
 */
export async function forgetKeys(
  client: Redis | Cluster,
  store: { mode: 'hash' | 'string'; prefix: string; buckets: number; legacyPrefix?: string },
  sids: string[],
  users: string[],
): Promise<void> {
  const prefix = Buffer.from(store.prefix);
  const width = bucketWidth(store.buckets);
  await Promise.all([
    ...sids.map((sid) => {
      const key = defaultKeyGenerator(sid);
      return store.mode === 'string'
        ? client.unlink(Buffer.concat([prefix, key]))
        : client.hdel(bucketKey(prefix, defaultBucketOf(key, store.buckets), width), key);
    }),
    ...users.map((u) => client.unlink(userIndexKey(prefix, u))),
    ...(store.legacyPrefix ? sids.map((sid) => client.unlink(`${store.legacyPrefix}${sid}`)) : []),
  ]);
}
