/** Ids longer than this are refused: no framework makes them, and they would only bloat keys. */
export const MAX_SESSION_ID_LENGTH = 256;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what we refuse
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Session ids arrive from cookies, so they are user input. Returns why an id is refused, or null.
 * Lone UTF-16 surrogates are refused because UTF-8 turns them all into U+FFFD: two different ids
 * would share one key.
 */
export function sessionIdProblem(sid: unknown): string | null {
  if (typeof sid !== 'string') return `session id must be a string, got ${sid === null ? 'null' : typeof sid}`;
  if (sid.length === 0) return 'session id is empty';
  if (sid.length > MAX_SESSION_ID_LENGTH) return `session id is longer than ${MAX_SESSION_ID_LENGTH} characters`;
  if (CONTROL.test(sid)) return 'session id contains control characters';
  if (!sid.isWellFormed()) return 'session id contains a lone UTF-16 surrogate';
  return null;
}

/** What may appear in a log line about a bad id: a short, escaped prefix, never the whole id. */
export function idForLog(sid: unknown): string {
  if (typeof sid !== 'string') return `<${typeof sid}>`;
  return JSON.stringify(sid.slice(0, 6)) + (sid.length > 6 ? `… (${sid.length} chars)` : '');
}
