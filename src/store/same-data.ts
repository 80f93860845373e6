import { isDeepStrictEqual } from 'node:util';

/** The session as JSON would carry it, without its cookie; null when it cannot be (a BigInt, a cycle). */
function dataOf(session: object): unknown {
  try {
    const { cookie: _cookie, ...data } = session as Record<string, unknown>;
    return JSON.parse(JSON.stringify(data));
  } catch {
    return null;
  }
}

/**
 * Whether a touch's copy of a session holds the data stored (everything but the cookie, which a
 * touch may change): only then may it bring the session's end forward. Compared as JSON round
 * trips (what the store keeps), key order aside. A copy that cannot be compared is not the same.
 */
export function sameData(stored: object, copy: object): boolean {
  const a = dataOf(stored);
  const b = dataOf(copy);
  return a !== null && b !== null && isDeepStrictEqual(a, b);
}
