import type { StoredEntry } from './walk.js';

/**
 * The owner's index entry a write updates in the same atomic step (single node only: on a cluster
 * the index may sit on another node, and the caller updates it first, separately).
 */
export interface IndexEntry {
  /** The user index hash. */
  index: Buffer;
  /** The session's binary key (the entry's field). */
  field: Buffer;
}

/** set: stored, or refused because the id was destroyed ('dead') or its owner logged out everywhere. */
export type WriteOutcome = 'stored' | 'dead' | 'revoked';

/**
 * touch: the session now ends when asked ('touched'), there is no live session ('missing'), its
 * owner logged out everywhere ('revoked'), or it would end earlier than stored: `shorter` holds
 * the stored value, for the caller to compare with its copy before calling shorten().
 */
export type TouchOutcome = 'touched' | 'missing' | 'revoked' | { shorter: Buffer };

/** destroy: what must still hold for the session to be ended (see session_destroy.lua). */
export type DestroyCondition = { is: 'any' } | { is: 'absent' } | { is: 'same'; value: Buffer };

export interface DestroyOptions {
  now: number;
  condition: DestroyCondition;
  /** The session's legacy copy, removed in the same step (single node only). */
  legacy?: { key: Buffer; field: Buffer | null };
  /** The tombstone's shortest life, ms (TOMBSTONE_MIN_MS unless said). */
  minLifeMs?: number;
}

/**
 * A storage mode maps a binary session key to Redis and moves envelopes in and out. It knows
 * nothing of sessions, TTL policy or codecs: the store (src/store/session-store.ts) does that.
 * `L` is where a session lives in this mode (a key, or a bucket and a field).
 *
 * Writes never undo a logout: a destroyed id holds a tombstone (src/modes/tombstone.ts) that
 * refuses them, and with an index entry the owner's index may refuse them too.
 */
export interface StorageMode<L> {
  readonly name: 'hash' | 'string';
  /** Whether values carry their own absolute expiry (hash mode: fields have no TTL). */
  readonly storesExpiry: boolean;
  /** May throw when a custom hashKeyGenerator misbehaves; the store treats that as a key error. */
  locate(key: Buffer): L;
  /**
   * Bytes a key may be written behind, for locateAt: the request path builds a session's key and
   * its Redis key in one Buffer (string mode: the prefix; hash mode: 0, the key is the field).
   */
  readonly keyRoom: number;
  /** locate() of the key written at byte keyRoom of `buffer`; the mode fills the bytes in front. */
  locateAt(buffer: Buffer): L;
  /** The stored bytes: a session envelope, a tombstone, or null. */
  read(loc: L): Promise<Buffer | null>;
  write(loc: L, value: Buffer, ttlMs: number, now: number, index?: IndexEntry): Promise<WriteOutcome>;
  /**
   * Moves a live session's end to `expiresAt` without touching its data (a touch carries a
   * possibly stale copy of the session). A later end is applied; an earlier one by more than
   * `slackMs` is handed back as `shorter`.
   */
  refresh(loc: L, expiresAt: number, ttlMs: number, now: number, index?: IndexEntry): Promise<TouchOutcome>;
  /** Brings the end forward, only if the session still holds exactly `expected`; true when done. */
  shorten(
    loc: L,
    expected: Buffer,
    expiresAt: number,
    ttlMs: number,
    now: number,
    index?: IndexEntry,
  ): Promise<boolean>;
  /**
   * Ends the session with a tombstone when the condition holds. `old` is the session it held (the
   * caller needs its owner), `current` what holds now when the condition failed.
   */
  destroy(loc: L, options: DestroyOptions): Promise<{ done: boolean; value: Buffer | null }>;
  /** The Redis key holding the session (for routing a command to its node). */
  keyOf(loc: L): Buffer;
  /** Deletes the session only if it still holds exactly `value` (compare-and-delete); true when deleted. */
  removeIfSame(loc: L, value: Buffer): Promise<boolean>;
  /** Live sessions under the prefix (walks the keyspace with SCAN). */
  count(now: number): Promise<number>;
  /** Deletes every session (and tombstone) under the prefix and nothing else; returns how many keys went. */
  clear(): Promise<number>;
  /** Every stored value under the prefix, a bounded page at a time, expired ones included (see walk.ts). */
  entries(): AsyncGenerator<StoredEntry[]>;
}
