import { CorruptValueError } from '../../store/errors.js';
import type { Encoder } from './encode.js';
import { T } from './format.js';

/*
 * express-session's cookie (the session's `cookie` member, keys as Cookie#toJSON writes them, in
 * its order) in 3 to 5 bytes instead of 10 or more: tag T.cookie, two flag bytes, then only the
 * values the flags do not already say.
 *
 *   byte A  bits 0-1 originalMaxAge  0 absent, 1 value follows, 2 null
 *           bits 2-3 expires         0 absent, 1 value follows, 2 null, 3 the envelope's expiry
 *           bits 4-5 secure          0 absent, 1 false, 2 true, 3 value follows
 *           bits 6-7 httpOnly        the same
 *   byte B  bits 0-1 path            0 absent, 1 '/', 2 value follows
 *           bits 2-3 sameSite        0 absent, 1 'lax', 2 'strict', 3 value follows
 *           bit 4 partitioned, bit 5 priority, bit 6 domain: present, value follows
 *           bit 7 reserved (0)
 *   then    the values that follow, in Cookie#toJSON order
 */

/** Cookie#toJSON's keys, in its order. */
export const COOKIE_KEYS = [
  'originalMaxAge',
  'partitioned',
  'priority',
  'expires',
  'secure',
  'httpOnly',
  'domain',
  'path',
  'sameSite',
] as const;
const ORDER = new Map<string, number>(COOKIE_KEYS.map((k, i) => [k, i]));
const DATE_TO_JSON = Date.prototype.toJSON;
const DATE_TO_ISO = Date.prototype.toISOString;

/** What this encoding takes as a cookie value (anything else: the cookie is written as an object). */
function simple(v: unknown): boolean {
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean' || v === null) return true;
  return v instanceof Date && v.toJSON === DATE_TO_JSON && v.toISOString === DATE_TO_ISO;
}

const flag = (v: unknown) => (v === false ? 1 : v === true ? 2 : 3);

/**
 * Writes `cookie` (a plain object: Cookie#toJSON's result, or its JSON round trip) this way and
 * returns true, or writes nothing and returns false when it has another shape.
 */
export function writeCookie(enc: Encoder, cookie: Record<string, unknown>, isExpiry: (v: unknown) => boolean): boolean {
  const vals: unknown[] = new Array(COOKIE_KEYS.length);
  let mask = 0;
  let last = -1;
  for (const key of Object.keys(cookie)) {
    const v = cookie[key];
    if (v === undefined) continue; // JSON drops it
    const at = ORDER.get(key);
    if (at === undefined || at < last || !simple(v)) return false;
    last = at;
    mask |= 1 << at;
    vals[at] = v;
  }
  const has = (i: number) => (mask >> i) & 1;
  const maxAge = has(0) ? (vals[0] === null ? 2 : 1) : 0;
  const expires = has(3) ? (vals[3] === null ? 2 : isExpiry(vals[3]) ? 3 : 1) : 0;
  const secure = has(4) ? flag(vals[4]) : 0;
  const httpOnly = has(5) ? flag(vals[5]) : 0;
  const path = has(7) ? (vals[7] === '/' ? 1 : 2) : 0;
  const sameSite = has(8) ? (vals[8] === 'lax' ? 1 : vals[8] === 'strict' ? 2 : 3) : 0;
  enc.byte(T.cookie);
  enc.byte(maxAge | (expires << 2) | (secure << 4) | (httpOnly << 6));
  enc.byte(path | (sameSite << 2) | (has(1) << 4) | (has(2) << 5) | (has(6) << 6));
  // the values not said by the flags, in Cookie#toJSON order (readCookie reads them so)
  const follow = (i: number, yes: boolean | number) => {
    if (yes) enc.value(vals[i], COOKIE_KEYS[i] as string, 2, false);
  };
  follow(0, maxAge === 1);
  follow(1, has(1));
  follow(2, has(2));
  follow(3, expires === 1);
  follow(4, secure === 3);
  follow(5, httpOnly === 3);
  follow(6, has(6));
  follow(7, path === 2);
  follow(8, sameSite === 3);
  return true;
}

/** What readCookie reads the values that follow from (the decoder). */
export interface CookieSource {
  /** The next value, at this depth. */
  value(depth: number): unknown;
  /** The envelope's expiry as an ISO string (a cookie.expires that was not stored). */
  expiry(): string;
}

/**
 * The cookie back, keys in Cookie#toJSON order; the values that follow are read from `src` at
 * `depth`. Straight-line on purpose: it runs on every get, and closures per key cost more than
 * the reading.
 */
export function readCookie(a: number, b: number, src: CookieSource, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let s = a & 3;
  if (s !== 0) out.originalMaxAge = s === 1 ? src.value(depth) : s === 2 ? null : bad();
  if ((b >> 4) & 1) out.partitioned = src.value(depth);
  if ((b >> 5) & 1) out.priority = src.value(depth);
  s = (a >> 2) & 3;
  if (s !== 0) out.expires = s === 1 ? src.value(depth) : s === 2 ? null : src.expiry();
  s = (a >> 4) & 3;
  if (s !== 0) out.secure = s === 1 ? false : s === 2 ? true : src.value(depth);
  s = (a >> 6) & 3;
  if (s !== 0) out.httpOnly = s === 1 ? false : s === 2 ? true : src.value(depth);
  if ((b >> 6) & 1) out.domain = src.value(depth);
  s = b & 3;
  if (s !== 0) out.path = s === 1 ? '/' : s === 2 ? src.value(depth) : bad();
  s = (b >> 2) & 3;
  if (s !== 0) out.sameSite = s === 1 ? 'lax' : s === 2 ? 'strict' : src.value(depth);
  return out;
}

function bad(): never {
  throw new CorruptValueError('compact payload: reserved cookie state');
}
