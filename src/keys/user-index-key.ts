/*
 * The per-user index of sessions ("log out everywhere") lives under the store's prefix behind a
 * marker byte of its own, like the buckets (0x00, 0x01 in buckets.ts) and distinct from the tag
 * bytes 0x01..0x05 that start a string-mode session key (key-scheme.ts):
 *
 *   prefix 0x06 <user id, UTF-8>     hash: field = session key, value = "<created>:<expiry>" (Unix ms)
 */
export const USER_INDEX = 0x06;

/** Longest user id accepted (what userId returns), in characters. */
export const MAX_USER_ID_LENGTH = 256;

export function userIndexKey(prefix: Buffer, userId: string): Buffer {
  return Buffer.concat([prefix, Buffer.of(USER_INDEX), Buffer.from(userId, 'utf8')]);
}

/** The prefix every user index key of a store starts with (for SCAN). */
export function userIndexPrefix(prefix: Buffer): Buffer {
  return Buffer.concat([prefix, Buffer.of(USER_INDEX)]);
}
