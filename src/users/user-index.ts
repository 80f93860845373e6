import { idOfKey } from '../keys/key-scheme.js';
import { MAX_USER_ID_LENGTH, userIndexKey, userIndexPrefix } from '../keys/user-index-key.js';
import type { RedisClient } from '../redis/connections.js';
import { pipelinePerKey } from '../redis/pipeline.js';
import { scanPrefix } from '../redis/scan.js';
import { type ScriptedClient, type ScriptedPipeline, scriptPerKey, withScripts } from '../redis/scripts.js';
import { ConfigError } from '../store/errors.js';

/** What the store's userId option returns: the owner of a session, or nothing (not logged in). */
export type UserIdOf = (session: Record<string, unknown>) => string | number | undefined | null;

/** One session of a user, as sessionsOf lists it. */
export interface UserSession {
  /** The session id, or null when the store keeps only a keyed hash of it (idSecret) or a custom keyGenerator is used. */
  id: string | null;
  /** The stored key, hex: identifies the session even when its id cannot be shown. */
  key: string;
  /** When the index first saw the session (Unix ms). */
  createdAt: number;
  /** When it expires (Unix ms), as of its last set or touch. */
  expiresAt: number;
}

/** What the index needs from the store to check a session before reporting or deleting it. */
export interface SessionAccess<L> {
  locate(key: Buffer): L;
  read(loc: L): Promise<Buffer | null>;
  remove(loc: L): Promise<void>;
  /** The session, or null when it is gone, expired or unreadable. */
  decode(raw: Buffer): Promise<Record<string, unknown> | null>;
}

export interface UserIndex {
  /** The session's owner, validated; null when there is none. Throws ConfigError for a bad return value. */
  ownerOf(session: object): string | null;
  /**
   * Runs a session write (queued by `queue`) together with the index update: in one MULTI on a
   * single node, index first then write on a cluster (the two keys may sit on different slots).
   * When destroyUser revoked this session meanwhile, the session is removed instead (undoes the
   * write) and `revoked` is true. `reply` is the write's own reply.
   */
  write(
    owner: string,
    key: Buffer,
    times: { expiresAt: number; ttlMs: number; now: number },
    queue: (tx: ScriptedPipeline) => void,
    undo: () => Promise<void>,
  ): Promise<{ reply: unknown; revoked: boolean }>;
  /** Drops a session from its owner's index (destroy). */
  forget(owner: string, key: Buffer): Promise<void>;
  destroyUser<L>(userId: string | number, access: SessionAccess<L>): Promise<number>;
  sessionsOf<L>(userId: string | number, access: SessionAccess<L>): Promise<UserSession[]>;
  /** Removes expired entries from every user index (the sweep); returns entries removed. */
  prune(graceMs: number): Promise<{ indexes: number; removed: number }>;
  /** Deletes every user index (clear). */
  clear(): Promise<number>;
}

function replies(out: Array<[Error | null, unknown]> | null): unknown[] {
  return (out ?? []).map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}

function normalize(value: unknown, what: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  const id = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof id !== 'string' || id.length > MAX_USER_ID_LENGTH || !id.isWellFormed()) {
    throw new ConfigError(
      `${what}: got ${typeof value === 'string' ? `a string of ${value.length} characters` : typeof value}; ` +
        `expected a string of 1 to ${MAX_USER_ID_LENGTH} characters, a finite number, or undefined`,
    );
  }
  return id;
}

/**
 * The per-user index behind destroyUser ("log out everywhere") and sessionsOf: one small hash per
 * user under the store's prefix, field = session key, value = created and expiry times. Each
 * index expires with its longest-lived session and sheds expired entries on writes and sweeps.
 */
export function userIndex(client: () => RedisClient, prefix: Buffer, userId: UserIdOf): UserIndex {
  const redis = (): ScriptedClient => withScripts(client());
  const keyOf = (owner: string) => userIndexKey(prefix, owner);

  /** Sessions in a user's index that still belong to that user (a session may since have changed hands). */
  async function owned<L>(owner: string, keys: Buffer[], access: SessionAccess<L>) {
    return Promise.all(
      keys.map(async (key) => {
        const loc = access.locate(key);
        const raw = await access.read(loc);
        const session = raw === null ? null : await access.decode(raw);
        let mine = false;
        try {
          mine = session !== null && normalize(userId(session), 'userId') === owner;
        } catch {
          mine = false;
        }
        return { key, loc, present: raw !== null, mine, unreadable: raw !== null && session === null };
      }),
    );
  }

  return {
    ownerOf: (session) => normalize(userId(session as Record<string, unknown>), 'option "userId" returned a bad value'),

    async write(owner, key, { expiresAt, ttlMs, now }, queue, undo) {
      const c = redis();
      const indexKey = keyOf(owner);
      if (c.isCluster) {
        const indexed = await c.rsUserIndexAdd(indexKey, key, expiresAt, now, ttlMs);
        if (indexed !== 1) {
          await undo();
          return { reply: 0, revoked: true };
        }
        const pipe = c.pipeline() as ScriptedPipeline;
        queue(pipe);
        return { reply: replies(await pipe.exec())[0], revoked: false };
      }
      const tx = c.multi() as ScriptedPipeline;
      tx.rsUserIndexAdd(indexKey, key, expiresAt, now, ttlMs);
      queue(tx);
      const [indexed, reply] = replies(await tx.exec());
      if (indexed !== 1) {
        await undo();
        return { reply: 0, revoked: true };
      }
      return { reply, revoked: false };
    },

    async forget(owner, key) {
      await redis().hdel(keyOf(owner), key);
    },

    async destroyUser(user, access) {
      const owner = normalize(user, 'destroyUser: user id');
      if (owner === null) return 0;
      const taken = (await redis().rsUserIndexRevokeBuffer(keyOf(owner), Date.now())) as Buffer[];
      const found = await owned(owner, taken, access);
      // A session that now belongs to someone else stays; one nobody can read goes (it is dead anyway).
      const doomed = found.filter((s) => s.mine || s.unreadable);
      await Promise.all(doomed.map((s) => access.remove(s.loc)));
      return doomed.filter((s) => s.mine).length;
    },

    async sessionsOf(user, access) {
      const owner = normalize(user, 'sessionsOf: user id');
      if (owner === null) return [];
      const now = Date.now();
      // a flat reply: hgetallBuffer would turn the binary field names into (lossy) object keys
      const flat = (await redis().callBuffer('HGETALL', keyOf(owner))) as Buffer[];
      const entries: Array<{ key: Buffer; createdAt: number; expiresAt: number }> = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const m = /^(\d+):(\d+)$/.exec((flat[i + 1] as Buffer).toString('latin1'));
        if (!m || Number(m[2]) <= now) continue; // revoked or expired
        entries.push({ key: flat[i] as Buffer, createdAt: Number(m[1]), expiresAt: Number(m[2]) });
      }
      const checked = await owned(
        owner,
        entries.map((e) => e.key),
        access,
      );
      // Only entries whose session now holds another owner (or cannot be read) go. An absent one may
      // be a write under way (on a cluster, or a legacy move, the entry comes first): the expiry
      // prune removes it if no session arrives.
      const stale = checked.filter((s) => s.present && !s.mine).map((s) => s.key);
      if (stale.length > 0) await redis().hdel(keyOf(owner), ...stale);
      return entries
        .filter((_, i) => checked[i]?.mine)
        .map((e) => ({
          id: idOfKey(e.key),
          key: e.key.toString('hex'),
          createdAt: e.createdAt,
          expiresAt: e.expiresAt,
        }))
        .sort((a, b) => a.createdAt - b.createdAt);
    },

    prune: (graceMs) => pruneUserIndexes(client(), prefix, graceMs),

    async clear() {
      let removed = 0;
      for await (const keys of scanPrefix(client(), userIndexPrefix(prefix), 'hash')) {
        // one key per command: on a cluster the indexes of one SCAN page sit on different slots
        const replies = await pipelinePerKey(client(), keys, (pipe, key) => pipe.unlink(key));
        removed += replies.filter((r) => r[0]?.[1] === 1).length;
      }
      return removed;
    },
  };
}

/** HSCAN COUNT per user_index_prune.lua call: bounds one call on a big index. */
const PRUNE_SLICE = 100;

/**
 * Removes expired entries from every user index under a prefix (SCAN, then user_index_prune.lua on
 * each page's indexes, pipelined, a slice at a time): what store.sweep() and, with CLEANUP_USER_INDEX=on, the worker's sweeps run.
 */
export async function pruneUserIndexes(
  client: RedisClient,
  prefix: Buffer,
  graceMs: number,
): Promise<{ indexes: number; removed: number }> {
  const redis = withScripts(client);
  let indexes = 0;
  let removed = 0;
  for await (const keys of scanPrefix(client, userIndexPrefix(prefix), 'hash')) {
    indexes += keys.length;
    // the first slice of every index of the page in pipelines, then again only for big indexes
    let pending = keys.map((key) => ({ key, cursor: '0' }));
    while (pending.length > 0) {
      const batch = pending;
      const replies = (await scriptPerKey(
        redis,
        'rsUserIndexPrune',
        batch.map((p) => p.key),
        (_k, i) => [(batch[i] as { cursor: string }).cursor, PRUNE_SLICE, graceMs],
      )) as Array<[Buffer | string, number, number]>;
      pending = [];
      replies.forEach(([next, , gone], i) => {
        removed += gone;
        if (next.toString() !== '0') pending.push({ key: (batch[i] as { key: Buffer }).key, cursor: next.toString() });
      });
    }
  }
  return { indexes, removed };
}
