import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { createSessionStore, type RedisConnection, runMigration } from 'redisession';
import { expect } from 'vitest';
import { hashStats } from '../../src/inspect/stats.js';
import { manifestKey } from '../../src/keys/manifest-key.js';
import { pruneUserIndexes } from '../../src/users/user-index.js';
import { plantExpired } from './sessions.js';

const sid = () => randomBytes(24).toString('base64url');

/** Where the bulk move puts the sessions: beside the prefix, not under it. */
export const movedPrefix = (prefix: string) => `${prefix.slice(0, -1)}-moved:`;

/**
 * Every SCAN-based walk over a store whose manifest sits under its prefix: none may count it as a
 * session, a bucket or a user index, or change or delete it. `client` reads Redis directly (a Redis
 * or a Cluster client); returns the number of walks run.
 */
export async function manifestSurvivesWalks(
  redis: RedisConnection,
  client: Redis | Cluster,
  prefix: string,
  options: { mode: 'hash' | 'string'; customKeys?: boolean; buckets?: number },
): Promise<void> {
  const { mode, buckets = 64 } = options;
  const store = createSessionStore({
    redis,
    prefix,
    mode,
    buckets,
    inlineSweep: 0,
    userId: (s) => s.user as string | undefined,
    ...(options.customKeys ? { keyGenerator: (id: string) => `k${id}` } : {}),
  });
  try {
    for (let i = 0; i < 10; i++) await store.set(sid(), { user: `u${i % 3}` }, { ttlMs: 600_000 });
    // expired sessions for the sweeps to find (hash mode: where the store would have put them)
    if (mode === 'hash') await plantExpired(client, prefix, 4, buckets);
    const key = manifestKey(Buffer.from(prefix));
    const recorded = await client.getBuffer(key);
    expect(recorded, 'the manifest is recorded on the first call').not.toBeNull();

    expect(await store.length()).toBe(10);
    if (mode === 'hash') {
      // 14 fields written; the 4 expired ones may share a bucket with live ones or not
      for (const strategy of ['full', 'sample', 'existing'] as const) {
        const dry = await store.sweep({ graceMs: 0, strategy, sample: buckets, dryRun: true });
        expect(dry.scanned, strategy).toBe(14);
        expect(dry.deleted, strategy).toBe(4);
      }
      const stats = await hashStats({ client, prefix: Buffer.from(prefix), buckets }, { sample: 10, exact: true });
      expect(stats).toMatchObject({ exact: true, sessions: 10, expiredNotSwept: 4 });
    }
    const swept = await store.sweep({ graceMs: 0 });
    if (mode === 'hash') expect(swept.deleted).toBe(4);
    // user indexes: one per user, nothing else
    expect(await pruneUserIndexes(client, Buffer.from(prefix), 0)).toEqual({ indexes: 3, removed: 0 });
    expect(await store.sessionsOf('u1')).toHaveLength(3);

    // the bulk move, from this store (a redisession string store) into another
    if (mode === 'string' && !options.customKeys) {
      const target = createSessionStore({
        redis,
        prefix: movedPrefix(prefix),
        buckets,
        legacy: { layout: 'string', prefix },
      });
      const moved = await runMigration(target);
      expect(moved).toMatchObject({ scanned: 10, moved: 10, skipped: 0 });
      expect(await target.length()).toBe(10);
      await target.clear();
      await client.del(manifestKey(Buffer.from(movedPrefix(prefix))));
      await target.close();
      expect(await store.length()).toBe(0);
    }

    await store.clear();
    expect(await store.length()).toBe(0);
    // clear removes sessions and user indexes, never the store's recorded layout
    expect(await client.getBuffer(key)).toEqual(recorded);
    expect(await client.pttl(key)).toBe(-1);
  } finally {
    await store.close();
  }
}
