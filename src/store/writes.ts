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

/** With the durability option, what one operation wrote (see receipt()). */
export interface Receipt {
  /** Marks the connections a write to these keys is about to go through. */
  before(keys: Buffer[]): Promise<void>;
  /** Waits for replicas on all of them. */
  confirm(): Promise<void>;
}

const RESOLVED = Promise.resolve();
/** The receipt of a store without the durability option: nothing to mark or confirm, nothing allocated. */
const NO_RECEIPT: Receipt = { before: () => RESOLVED, confirm: () => RESOLVED };

export function sessionWrites(deps: WriteDeps) {
  const { mode, users, legacy, opts, client, logger, encode, readLive, decodeQuietly } = deps;

  /**
   * With the durability option, what one operation wrote: `before(keys)` marks the connections a
   * write to these keys is about to go through, `confirm()` waits for replicas on all of them.
   */
  function receipt(): Receipt {
    if (!opts.durability) return NO_RECEIPT;
    const durability = opts.durability;
    const marks: WriteMark[] = [];
    return {
      async before(keys: Buffer[]) {
        marks.push(...(await markWrites(client(), keys)));
      },
      async confirm() {
        if (marks.length > 0) await confirmWrites(marks, durability);
      },
    };
  }

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
    if (opts.durability) await r.before([mode.keyOf(where.loc)]);
    const { done, value } = await mode.destroy(where.loc, {
      now: Date.now(),
      condition,
      ...(legacy ? { legacy: legacy.copyOf(sid, where.key) } : {}),
    });
    // the tombstone keeps the entry from being written again: removing it now is safe
    const owner = done && users && value ? await ownerOfStored(value) : null;
    if (owner !== null) {
      if (opts.durability) await r.before(indexKeyOf(owner));
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

  /**
   * set or touch of a located session, living ttlMs from now (<= 0: its cookie already expired).
   * May throw synchronously (a session that cannot be encoded): the caller makes that a rejection.
   */
  function write(sid: string, where: Where, session: object, ttlMs: number, now: number, op: 'set' | 'touch') {
    if (opts.durability) return confirmed(sid, where, session, ttlMs, now, op);
    if (op === 'touch') return touch(sid, where, session, ttlMs, now, NO_RECEIPT);
    // Already expired (or NaN from a broken maxAge): the session must not outlive its cookie.
    if (!(ttlMs > 0)) return end(sid, where, { is: 'any' }, NO_RECEIPT).then(nothing);
    return set(sid, where, session, ttlMs, now, NO_RECEIPT);
  }

  /** write() with the durability option: acknowledged once the replicas have it. */
  async function confirmed(sid: string, where: Where, session: object, ttlMs: number, now: number, op: string) {
    const r = receipt();
    if (op === 'touch') await touch(sid, where, session, ttlMs, now, r);
    else if (!(ttlMs > 0)) await end(sid, where, { is: 'any' }, r);
    else await set(sid, where, session, ttlMs, now, r);
    await r.confirm();
  }

  /**
   * The plain case (no owner, no durability, a codec that answers at once) is one script call and
   * one step after it: the request path of most stores.
   */
  function set(sid: string, where: Where, session: object, ttlMs: number, now: number, r: Receipt) {
    const owner = users ? users.ownerOf(session) : null;
    const encoded = encode(session, mode.storesExpiry ? now + ttlMs : null);
    if (owner !== null || opts.durability || isThenable(encoded))
      return ownedSet(sid, where, owner, encoded, ttlMs, now, r);
    checkSize(encoded);
    return mode.write(where.loc, encoded, ttlMs, now).then((outcome) => {
      if (outcome !== 'stored') dropped('set', sid, outcome);
    });
  }

  function checkSize(value: Buffer) {
    if (value.length > opts.maxSize) {
      throw new SessionEncodeError(
        `session is ${value.length} bytes as stored, over maxSize (${opts.maxSize}); not stored`,
      );
    }
  }

  async function ownedSet(
    sid: string,
    where: Where,
    owner: string | null,
    encoded: Buffer | Promise<Buffer>,
    ttlMs: number,
    now: number,
    r: Receipt,
  ) {
    const value = await encoded;
    checkSize(value);
    if (opts.durability) await r.before([mode.keyOf(where.loc), ...indexKeyOf(owner)]);
    const outcome = await guarded<WriteOutcome>(
      where,
      owner,
      ttlMs,
      now,
      (entry) => mode.write(where.loc, value, ttlMs, now, entry),
      'revoked',
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

  /**
   * See SessionStore.touch: a later end at once; an earlier one only from a copy holding the stored
   * data. The plain case (no owner, no durability, a later end) is one command and one step after it.
   */
  function touch(sid: string, where: Where, session: object, ttlMs: number, now: number, r: Receipt) {
    const owner = users ? users.ownerOf(session) : null;
    if (owner !== null || opts.durability || !(ttlMs > 0)) return ownedTouch(sid, where, owner, session, ttlMs, now, r);
    const expiresAt = now + ttlMs;
    return mode
      .refresh(where.loc, expiresAt, ttlMs, now)
      .then((outcome) =>
        outcome === 'touched' ? undefined : touched(sid, where, null, session, ttlMs, now, r, outcome),
      );
  }

  async function ownedTouch(
    sid: string,
    where: Where,
    owner: string | null,
    session: object,
    ttlMs: number,
    now: number,
    r: Receipt,
  ) {
    if (opts.durability) await r.before([mode.keyOf(where.loc), ...indexKeyOf(owner)]);
    let outcome: TouchOutcome;
    if (ttlMs > 0) {
      outcome = await refreshGuarded(where, owner, ttlMs, now);
    } else {
      // an expired cookie ends the session, on the same terms as a shorter one
      const raw = (await readLive(where.loc)) ?? (legacy ? await legacy.claim(sid, where.key, where.loc) : null);
      outcome = raw === null ? 'missing' : { shorter: raw };
    }
    await touched(sid, where, owner, session, ttlMs, now, r, outcome);
  }

  /** A write of an owned session through its index (users.guard), or a plain one. */
  function guarded<T>(
    where: Where,
    owner: string | null,
    ttlMs: number,
    now: number,
    run: (entry?: IndexEntryOf) => Promise<T>,
    refused: T,
  ): Promise<T> {
    return owner === null || !users
      ? run()
      : users.guard(owner, where.key, { expiresAt: now + ttlMs, ttlMs, now }, run, refused);
  }

  function refreshGuarded(where: Where, owner: string | null, ttlMs: number, now: number): Promise<TouchOutcome> {
    const expiresAt = now + ttlMs;
    return guarded(
      where,
      owner,
      ttlMs,
      now,
      (entry) => mode.refresh(where.loc, expiresAt, ttlMs, now, entry),
      'revoked',
    );
  }

  /** What follows a refresh that did not simply touch: a legacy session, a drop, an earlier end. */
  async function touched(
    sid: string,
    where: Where,
    owner: string | null,
    session: object,
    ttlMs: number,
    now: number,
    r: Receipt,
    first: TouchOutcome,
  ) {
    let outcome = first;
    // A session only the legacy layout holds is moved over first, then touched.
    if (ttlMs > 0 && outcome === 'missing' && legacy && (await legacy.claim(sid, where.key, where.loc)) !== null) {
      outcome = await refreshGuarded(where, owner, ttlMs, now);
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
    const expiresAt = now + ttlMs;
    await guarded(
      where,
      owner,
      ttlMs,
      now,
      (entry) => mode.shorten(where.loc, shorter, expiresAt, ttlMs, now, entry),
      false,
    );
  }

  return { receipt, end, write };
}

function nothing(): void {}
