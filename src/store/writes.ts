import { isThenable } from '../codec/serializers.js';
import { idForLog } from '../keys/session-id.js';
import { userIndexKey } from '../keys/user-index-key.js';
import type { LegacyFallback } from '../migrate/legacy.js';
import type {
  DestroyCondition,
  IndexEntry as IndexEntryOf,
  StorageMode,
  TouchOutcome,
  WriteOutcome,
} from '../modes/mode.js';
import type { RedisClient } from '../redis/connections.js';
import { confirmWrites, markWrites, type WriteMark } from '../redis/durability.js';
import type { Decoded, UserIndex } from '../users/user-index.js';
import { SessionEncodeError } from './errors.js';
import type { Logger } from './logger.js';
import type { ResolvedOptions } from './options.js';
import { sameData } from './same-data.js';

/*
 * What set, touch and destroy do to a session, and what they never do: rewrite data on a touch,
 * bring back a destroyed session, undo a concurrent save, or let a session escape its owner's
 * index. The store (session-store.ts) locates the session and hands it here.
 */

/** Where a session lives: its binary key, and its location in the storage mode. */
export interface Where {
  key: Buffer;
  loc: unknown;
}

export interface WriteDeps {
  // biome-ignore lint/suspicious/noExplicitAny: the mode's location type, passed back to it
  mode: StorageMode<any>;
  users: UserIndex | null;
  // biome-ignore lint/suspicious/noExplicitAny: see mode
  legacy: LegacyFallback<any> | null;
  opts: Pick<ResolvedOptions, 'prefix' | 'maxSize' | 'durability'>;
  client: () => RedisClient;
  logger: Logger;
  encode(session: object, expiresAt: number | null): Buffer | Promise<Buffer>;
  /** What is stored at a location, a tombstone reading as nothing. */
  readLive(loc: unknown): Promise<Buffer | null>;
  /** Stored bytes decoded without logging or deleting anything. */
  decodeQuietly(raw: Buffer): Promise<Decoded>;
}

export function sessionWrites(deps: WriteDeps) {
  const { mode, users, legacy, opts, client, logger, encode, readLive, decodeQuietly } = deps;

  /**
   * With the durability option, what one operation wrote: `before(keys)` marks the connections a
   * write to these keys is about to go through, `confirm()` waits for replicas on all of them.
   */
  function receipt() {
    const marks: WriteMark[] = [];
    return {
      async before(keys: Buffer[]) {
        if (opts.durability) marks.push(...(await markWrites(client(), keys)));
      },
      async confirm() {
        if (opts.durability && marks.length > 0) await confirmWrites(marks, opts.durability);
      },
    };
  }
  type Receipt = ReturnType<typeof receipt>;

  const indexKeyOf = (owner: string | null) => (owner === null ? [] : [userIndexKey(opts.prefix, owner)]);
  /** The owner of a stored session, if it can be told (for the index entry destroy removes). */
  const ownerOfStored = async (raw: Buffer): Promise<string | null> => {
    const decoded = await decodeQuietly(raw);
    if (!users || typeof decoded !== 'object') return null;
    try {
      return users.ownerOf(decoded.session);
    } catch {
      return null;
    }
  };

  /**
   * Ends a session (destroy, an expired cookie) if the condition holds: a tombstone replaces it,
   * its legacy copy goes in the same step, and its owner's index entry after. True when ended.
   */
  async function end(sid: string, where: Where, condition: DestroyCondition, r: Receipt) {
    await r.before([mode.keyOf(where.loc)]);
    const { done, value } = await mode.destroy(where.loc, {
      now: Date.now(),
      condition,
      ...(legacy ? { legacy: legacy.copyOf(sid, where.key) } : {}),
    });
    // the tombstone keeps the entry from being written again: removing it now is safe
    const owner = done && users && value ? await ownerOfStored(value) : null;
    if (owner !== null) {
      await r.before(indexKeyOf(owner));
      await users?.forget(owner, where.key);
    }
    return done;
  }

  function dropped(op: string, sid: string, outcome: WriteOutcome | TouchOutcome): void {
    if (outcome === 'dead' || outcome === 'revoked') {
      const reason = outcome === 'dead' ? 'the session was destroyed' : 'its owner was logged out everywhere';
      logger.debug({ op, id: idForLog(sid) }, `redisession: ${op} dropped: ${reason}`);
    }
  }

  /** set or touch of a located session, living ttlMs from now (<= 0: its cookie already expired). */
  async function write(sid: string, where: Where, session: object, ttlMs: number, now: number, op: 'set' | 'touch') {
    const r = receipt();
    if (op === 'touch') await touch(sid, where, session, ttlMs, now, r);
    else if (!(ttlMs > 0)) {
      // Already expired (or NaN from a broken maxAge): the session must not outlive its cookie.
      await end(sid, where, { is: 'any' }, r);
    } else await set(sid, where, session, ttlMs, now, r);
    if (opts.durability) await r.confirm();
  }

  async function set(sid: string, where: Where, session: object, ttlMs: number, now: number, r: Receipt) {
    const owner = users?.ownerOf(session) ?? null;
    const encoded = encode(session, mode.storesExpiry ? now + ttlMs : null);
    // the built-in codecs answer synchronously: no extra await on the request path
    const value = isThenable(encoded) ? await encoded : encoded;
    if (value.length > opts.maxSize) {
      throw new SessionEncodeError(
        `session is ${value.length} bytes as stored, over maxSize (${opts.maxSize}); not stored`,
      );
    }
    if (opts.durability) await r.before([mode.keyOf(where.loc), ...indexKeyOf(owner)]);
    const outcome =
      owner === null || !users
        ? await mode.write(where.loc, value, ttlMs, now)
        : await users.guard(
            owner,
            where.key,
            { expiresAt: now + ttlMs, ttlMs, now },
            (entry) => mode.write(where.loc, value, ttlMs, now, entry),
            'revoked' as const,
          );
    dropped('set', sid, outcome);
    if (outcome !== 'stored') return;
    // a cluster writes the entry and the session in two steps: a destroyUser that revoked the
    // entry in between may have looked at the session before this write landed
    if (owner !== null && users && !(await users.confirm(owner, where.key, { expiresAt: now + ttlMs, ttlMs, now }))) {
      await mode.destroy(where.loc, { now: Date.now(), condition: { is: 'same', value } });
      dropped('set', sid, 'revoked');
    }
  }

  /** See SessionStore.touch: a later end at once; an earlier one only from a copy holding the stored data. */
  async function touch(sid: string, where: Where, session: object, ttlMs: number, now: number, r: Receipt) {
    const owner = users?.ownerOf(session) ?? null;
    if (opts.durability) await r.before([mode.keyOf(where.loc), ...indexKeyOf(owner)]);
    const expiresAt = now + ttlMs;
    const times = { expiresAt, ttlMs, now };
    const guarded = <T>(run: (entry?: IndexEntryOf) => Promise<T>, refused: T) =>
      owner === null || !users ? run() : users.guard(owner, where.key, times, run, refused);
    let outcome: TouchOutcome;
    if (ttlMs > 0) {
      const refresh = () => guarded((entry) => mode.refresh(where.loc, expiresAt, ttlMs, now, entry), 'revoked');
      outcome = await refresh();
      // A session only the legacy layout holds is moved over first, then touched.
      if (outcome === 'missing' && legacy && (await legacy.claim(sid, where.key, where.loc)) !== null) {
        outcome = await refresh();
      }
    } else {
      // an expired cookie ends the session, on the same terms as a shorter one
      const raw = (await readLive(where.loc)) ?? (legacy ? await legacy.claim(sid, where.key, where.loc) : null);
      outcome = raw === null ? 'missing' : { shorter: raw };
    }
    dropped('touch', sid, outcome);
    if (typeof outcome !== 'object') return;
    // Earlier than stored: a stale copy (its request loaded the session before another one saved
    // it) leaves the stored life alone; the same data means the cookie itself was shortened.
    const stored = await decodeQuietly(outcome.shorter);
    if (typeof stored !== 'object' || !sameData(stored.session, session)) return;
    if (!(ttlMs > 0)) {
      await end(sid, where, { is: 'same', value: outcome.shorter }, r);
      return;
    }
    const shorter = outcome.shorter;
    await guarded((entry) => mode.shorten(where.loc, shorter, expiresAt, ttlMs, now, entry), false);
  }

  return { receipt, end, write };
}
