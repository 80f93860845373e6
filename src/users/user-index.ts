import { idOfKey } from '../keys/key-scheme.js';
import { MAX_USER_ID_LENGTH, userIndexKey, userIndexPrefix } from '../keys/user-index-key.js';
import type { DestroyCondition, IndexEntry } from '../modes/mode.js';
import { isTombstone } from '../modes/tombstone.js';
import type { RedisClient } from '../redis/connections.js';
import { pipelinePerKey } from '../redis/pipeline.js';
import { scanPrefix } from '../redis/scan.js';
import { scriptPerKey } from '../redis/script-calls.js';
import { type ScriptedClient, withScripts } from '../redis/scripts.js';
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

/** A stored session as the index sees it: live with its owner's data, expired, or unreadable here. */
export type Decoded = { session: Record<string, unknown>; expiresAt: number | null } | 'expired' | 'unreadable';

/** What the index needs from the store to check a session before reporting or ending it. */
export interface SessionAccess<L> {
  locate(key: Buffer): L;
  /** The stored bytes (a session or a tombstone: see src/modes/tombstone.ts), or null. */
  read(loc: L): Promise<Buffer | null>;
  /** Ends the session when the condition still holds (see StorageMode.destroy). */
  destroy(loc: L, condition: DestroyCondition): Promise<{ done: boolean }>;
  decode(raw: Buffer): Promise<Decoded>;
}

/** When a write started and what it stores: for the index entry and the fence. */
export interface WriteTimes {
  expiresAt: number;
  ttlMs: number;
  now: number;
  /** When the session was written, if earlier than now; 0 when unknown (a legacy copy). */
  writtenAt?: number;
}

export interface UserIndex {
  /** The session's owner, validated; null when there is none. Throws ConfigError for a bad return value. */
  ownerOf(session: object): string | null;
  /**
   * Runs a write of an owned session with its index entry. On a single node `run` gets the entry
   * and updates it in its own script, in the same atomic step as the session. On a cluster (the
   * index may sit on another node) the entry is added first and `run` gets none: when the index
   * refuses (destroyUser revoked or fenced it) `run` is not called and `refused` is returned.
   */
  guard<T>(
    owner: string,
    key: Buffer,
    times: WriteTimes,
    run: (entry?: IndexEntry) => Promise<T>,
    refused: T,
  ): Promise<T>;
  /**
   * On a cluster, after a guarded set stored the session: false when destroyUser revoked its entry
   * meanwhile (the entry was added before the revoke, the session written after destroyUser looked
   * at it): the caller then ends what it wrote. An entry that is gone (its node failed over before
   * replicating it) is added again. Always true on a single node (one atomic step).
   */
  confirm(owner: string, key: Buffer, times: WriteTimes): Promise<boolean>;
  /** Adds the entry on its own (a legacy copy moved over); false when the index refuses it. */
  add(owner: string, key: Buffer, times: WriteTimes): Promise<boolean>;
  /** Drops a session from its owner's index (destroy). */
  forget(owner: string, key: Buffer): Promise<void>;
  /** Returns the sessions it ended. */
  destroyUser<L>(userId: string | number, access: SessionAccess<L>): Promise<number>;
  sessionsOf<L>(userId: string | number, access: SessionAccess<L>): Promise<UserSession[]>;
  /** Removes expired entries from every user index (the sweep); returns entries removed. */
  prune(graceMs: number): Promise<{ indexes: number; removed: number }>;
  /** Deletes every user index (clear). */
  clear(): Promise<number>;
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

const REVOKED = Buffer.from('r:');

/** How often destroyUser looks again at a session that changed while it decided. */
const END_ROUNDS = 5;

/**
 * The per-user index behind destroyUser ("log out everywhere") and sessionsOf: one small hash per
 * user under the store's prefix, field = session key, value = created and expiry times, plus the
 * fence of the user's last destroyUser. Each index expires with its longest-lived entry and sheds
 * expired entries on writes and sweeps. `fenceMs`: how long destroyUser's fence lasts at least;
 * `graceMs`: how long past its expiry an entry is kept (web servers' clocks may be behind).
 */
export function userIndex(
  client: () => RedisClient,
  prefix: Buffer,
  userId: UserIdOf,
  { fenceMs, graceMs }: { fenceMs: number; graceMs: number },
): UserIndex {
  const redis = (): ScriptedClient => withScripts(client());
  const keyOf = (owner: string) => userIndexKey(prefix, owner);
  const owns = (owner: string, session: Record<string, unknown>): boolean => {
    try {
      return normalize(userId(session), 'userId') === owner;
    } catch {
      return false;
    }
  };

  async function add(owner: string, key: Buffer, { expiresAt, ttlMs, now, writtenAt }: WriteTimes): Promise<boolean> {
    const extra = writtenAt === undefined ? [] : [writtenAt];
    return (await redis().rsUserIndexAdd(keyOf(owner), key, expiresAt, now, ttlMs, graceMs, ...extra)) === 1;
  }

  /**
   * Ends one revoked session if it is still this owner's (or unreadable here: it was indexed as
   * theirs, and a logout must not depend on which instance runs it); leaves it when it changed
   * hands. Decided, then ended only if still the same (compare-and-destroy), else decided again.
   * True when a session was ended.
   */
  async function endIfOwned<L>(owner: string, key: Buffer, access: SessionAccess<L>): Promise<boolean> {
    const loc = access.locate(key);
    for (let round = 0; round < END_ROUNDS; round++) {
      const raw = await access.read(loc);
      // ended already (an earlier call: revoked entries are taken again by every call)
      if (raw !== null && isTombstone(raw)) return false;
      if (raw !== null) {
        const decoded = await access.decode(raw);
        if (typeof decoded === 'object' && !owns(owner, decoded.session)) return false;
      }
      // an absent one gets a tombstone too: a write still in flight must not create it after this
      const { done } = await access.destroy(loc, raw === null ? { is: 'absent' } : { is: 'same', value: raw });
      if (done) return raw !== null;
    }
    return false;
  }

  return {
    ownerOf: (session) => normalize(userId(session as Record<string, unknown>), 'option "userId" returned a bad value'),

    async guard(owner, key, times, run, refused) {
      if (!client().isCluster) return run({ index: keyOf(owner), field: key });
      return (await add(owner, key, times)) ? run() : refused;
    },

    async confirm(owner, key, times) {
      if (!client().isCluster) return true;
      const entry = await redis().hgetBuffer(keyOf(owner), key);
      if (entry === null) return add(owner, key, times);
      return !entry.subarray(0, 2).equals(REVOKED);
    },

    add,

    async forget(owner, key) {
      await redis().hdel(keyOf(owner), key);
    },

    async destroyUser(user, access) {
      const owner = normalize(user, 'destroyUser: user id');
      if (owner === null) return 0;
      const revoke = async (stamp: number) =>
        (await redis().rsUserIndexRevokeBuffer(keyOf(owner), stamp, fenceMs, graceMs)) as Buffer[];
      const endAll = async (keys: Buffer[]) =>
        (await Promise.all(keys.map((key) => endIfOwned(owner, key, access)))).filter(Boolean).length;
      // the fence refuses every save of this user that started at or before the call
      const started = Date.now();
      const taken = await revoke(started);
      const ended = await endAll(taken);
      // Once more, the fence moved up to the millisecond before this pass: a login of this user
      // that started while the first pass ended sessions (round trips) got past the first fence;
      // the second pass revokes and ends it, and refuses any that started earlier and has not
      // landed yet. Only a login started during this last round trip can outlive the call. (Not
      // this very millisecond: a login right after the call returns must not be refused.)
      const seen = new Set(taken.map((key) => key.toString('latin1')));
      const again = (await revoke(Date.now() - 1)).filter((key) => !seen.has(key.toString('latin1')));
      const total = ended + (await endAll(again));
      // Return in a later millisecond than the fence: a login right after the call (log out
      // everywhere, then sign in again on this device) must start after it, not within it.
      // (a loop: a 1 ms timer is measured on the event loop's cached clock, and may fire before
      // Date.now() has moved on)
      while (Date.now() <= started) await new Promise((resolve) => setTimeout(resolve, 1));
      return total;
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
        if (!m || Number(m[2]) + graceMs <= now) continue; // the fence, revoked, or long expired
        entries.push({ key: flat[i] as Buffer, createdAt: Number(m[1]), expiresAt: Number(m[2]) });
      }
      // Read only: an entry whose session is gone, expired or someone else's now is left to the
      // expiry prune. Deleting it here could race with a write that makes it this user's again.
      const listed = await Promise.all(
        entries.map(async (e) => {
          const raw = await access.read(access.locate(e.key));
          if (raw === null || isTombstone(raw)) return null;
          const decoded = await access.decode(raw);
          if (decoded === 'expired') return null;
          // unreadable here (a codec this instance lacks): it was indexed as this user's
          if (decoded === 'unreadable') return e;
          if (!owns(owner, decoded.session)) return null;
          return decoded.expiresAt === null ? e : { ...e, expiresAt: decoded.expiresAt };
        }),
      );
      return listed
        .filter((e) => e !== null)
        .map((e) => ({
          id: idOfKey(e.key),
          key: e.key.toString('hex'),
          createdAt: e.createdAt,
          expiresAt: e.expiresAt,
        }))
        .sort((a, b) => a.createdAt - b.createdAt);
    },

    prune: (grace) => pruneUserIndexes(client(), prefix, grace),

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
      )) as Array<[Buffer, number, number]>;
      pending = [];
      replies.forEach(([next, , gone], i) => {
        removed += gone;
        if (next.toString() !== '0') pending.push({ key: (batch[i] as { key: Buffer }).key, cursor: next.toString() });
      });
    }
  }
  return { indexes, removed };
}
