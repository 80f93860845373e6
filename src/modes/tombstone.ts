/*
 * What destroy leaves where a session was: an 8-byte value, 0xDE 0x00 then "dead until" (Unix ms,
 * 48-bit big-endian, at the offset where a session envelope keeps its expiry). While it lasts,
 * every write of that id is refused and every read finds nothing, so a save still in flight when
 * the user logged out cannot bring the session back (src/lua/session_destroy.lua writes it; the
 * sweep removes it from a bucket once past). The byte sits outside the envelope's 0xA0..0xAF
 * format range, so no session value ever starts with it.
 */

export const TOMBSTONE_BYTE = 0xde;

/**
 * In string mode the tombstone is not a string but a hash of one field, this one, holding the same
 * 8 bytes (src/lua/includes/session.lua writes it): the web tier saves with a plain `SET ... GET`,
 * which fails on a hash (WRONGTYPE) and so cannot write over it. The key's TTL ends it. Earlier
 * versions wrote it as a string; those are still read as tombstones, and a save that lands on
 * one buries the id again at once (src/modes/string-mode.ts).
 */
export const STRING_TOMBSTONE_FIELD = 'tombstone';

/**
 * A tombstone lives as long as the session it replaced could have, and at least this long: the
 * time a save that started before the logout may still take to reach Redis.
 */
export const TOMBSTONE_MIN_MS = 60_000;

export function isTombstone(value: Buffer): boolean {
  return value[0] === TOMBSTONE_BYTE;
}
