import type { ScriptedPipeline } from '../redis/scripts.js';
import type { StoredEntry } from './walk.js';

/**
 * A storage mode maps a binary session key to Redis and moves envelopes in and out. It knows
 * nothing of sessions, TTL policy or codecs: the store (src/store/session-store.ts) does that.
 * `L` is where a session lives in this mode (a key, or a bucket and a field).
 */
export interface StorageMode<L> {
  readonly name: 'hash' | 'string';
  /** Whether values carry their own absolute expiry (hash mode: fields have no TTL). */
  readonly storesExpiry: boolean;
  /** May throw when a custom hashKeyGenerator misbehaves; the store treats that as a key error. */
  locate(key: Buffer): L;
  read(loc: L): Promise<Buffer | null>;
  /** Resolves (to the command's reply, of no interest) once stored. */
  write(loc: L, value: Buffer, ttlMs: number): Promise<unknown>;
  /**
   * Extends a live session to expire at `expiresAt` without touching its data (a touch carries a
   * possibly stale copy of the session), and never shortens it; true when it extended one.
   */
  refresh(loc: L, expiresAt: number, ttlMs: number, now: number): Promise<boolean>;
  /** Resolves (to the command's reply, of no interest) once removed. */
  remove(loc: L): Promise<unknown>;
  /** Deletes the session only if it still holds exactly `value` (compare-and-delete); true when deleted. */
  removeIfSame(loc: L, value: Buffer): Promise<boolean>;
  /** write() as a command queued on a transaction (the user index rides in the same MULTI). */
  queueWrite(tx: ScriptedPipeline, loc: L, value: Buffer, ttlMs: number): void;
  /** refresh() queued on a transaction; its reply is 1 when it extended a session. */
  queueRefresh(tx: ScriptedPipeline, loc: L, expiresAt: number, ttlMs: number, now: number): void;
  /** Live sessions under the prefix (walks the keyspace with SCAN). */
  count(now: number): Promise<number>;
  /** Deletes every session under the prefix and nothing else; returns how many keys went. */
  clear(): Promise<number>;
  /** Every stored value under the prefix, a bounded page at a time, expired ones included (see walk.ts). */
  entries(): AsyncGenerator<StoredEntry[]>;
}
