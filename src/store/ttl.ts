/** No session lives longer than this (100 years): keeps expiries inside the envelope's 48 bits. */
export const MAX_TTL_MS = 100 * 365 * 86_400_000;

/** The parts of a session the store looks at to decide how long it lives. */
interface CookieLike {
  expires?: unknown;
}

/**
 * Milliseconds the session should live, from `cookie.expires` (a Date, or an ISO string after a
 * JSON round trip) when it has one, else the store default. May be zero or negative: the caller
 * destroys the session then. An unparseable `expires` falls back to the default rather than
 * guessing.
 */
export function ttlMsFor(session: unknown, defaultTtlMs: number, now: number): number {
  const cookie = (session as { cookie?: CookieLike } | null)?.cookie;
  const expires = cookie?.expires;
  if (expires instanceof Date || typeof expires === 'string' || typeof expires === 'number') {
    const at = expires instanceof Date ? expires.getTime() : new Date(expires).getTime();
    if (Number.isFinite(at)) return at - now;
  }
  return defaultTtlMs;
}
