import { Packr } from 'msgpackr';
import type { Serializer } from './serializers.js';

/*
 * The 'compact-v1' serializer (id 1): the compact format before format 2 (compact2/), which is
 * what 'compact' writes now. Kept so that values it wrote stay readable forever, and so a rolling
 * upgrade can keep writing it until every instance reads format 2. Frozen: never change its bytes.
 *
 * What JSON would store, in far fewer bytes, so that a typical session
 * stays under Redis's hash-max-listpack-value (64) and its bucket stays a listpack.
 *
 *   - the session is first normalised exactly as JSON would (toJSON, Dates as ISO strings,
 *     undefined dropped, NaN as null): what get returns deep-equals a JSON round trip;
 *   - then MessagePack (shorter numbers, no quotes or commas);
 *   - lowercase hex strings of 8+ characters (CSRF tokens, ids) travel as binary, half the size
 *     (JSON has no binary values, so any binary in the payload is one of these);
 *   - express-session's cookie, when it has the usual shape, becomes a key-presence mask and its
 *     values, and its `expires` is dropped when it equals the envelope's own expiry (it is
 *     derived from it on read).
 *
 * Payload: byte 0 = 0 (plain MessagePack) | 1 (cookie first, compacted) | 2 (JSON text); for 1:
 * two mask bytes, the cookie's present values as a MessagePack array, then the rest of the
 * session as a MessagePack map. JSON text is the fallback for sessions with a "__proto__" key,
 * which msgpackr renames on read (its guard against prototype pollution), or a lone surrogate.
 */

const packr = new Packr({ useRecords: false, variableMapSize: true, mapsAsObjects: true, moreTypes: false });

/** The keys express-session's Cookie#toJSON writes, in its order (undefined ones are dropped). */
const COOKIE_KEYS = [
  'originalMaxAge',
  'partitioned',
  'priority',
  'expires',
  'secure',
  'httpOnly',
  'domain',
  'path',
  'sameSite',
];
/** Set when `expires` was present and equal to the envelope's expiry, so it is not stored. */
const EXPIRES_FROM_ENVELOPE = 1 << 15;

const HEX = /^(?:[0-9a-f]{2}){4,}$/;
/** How JSON.stringify writes a lone surrogate (well-formed JSON.stringify, ES2019). */
const LONE_SURROGATE = /\\u[dD][89a-fA-F]/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function packHex(value: Json): unknown {
  if (typeof value === 'string') return HEX.test(value) ? Buffer.from(value, 'hex') : value;
  if (Array.isArray(value)) return value.map(packHex);
  // fromEntries defines own properties: a "__proto__" key stays a plain key
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, packHex(v)]));
  return value;
}

/** Thrown by `packable` for anything its one-walk path does not handle; the caller goes the JSON way. */
const SLOW = new Error('compact: slow path');
/** Deeper than this, the JSON way decides (it throws on cycles, which the fast walk does not track). */
const MAX_FAST_DEPTH = 64;

function packString(s: string): string | Buffer {
  if (!s.isWellFormed()) throw SLOW;
  return s.length >= 8 && (s.length & 1) === 0 && HEX.test(s) ? Buffer.from(s, 'hex') : s;
}

/**
 * What packHex(JSON.parse(JSON.stringify(value))) gives, in one walk, for the shapes sessions are
 * made of: plain objects, arrays, strings, numbers, booleans, null, undefined and Dates. Anything
 * else (class instances, toJSON methods, boxed values, BigInt, "__proto__" keys, lone surrogates,
 * deep nesting) throws SLOW. Returns undefined where JSON would drop the value.
 */
function packable(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return packString(value);
    case 'number':
      // JSON writes NaN and the infinities as null, and -0 as 0
      return Number.isFinite(value) ? value + 0 : null;
    case 'boolean':
      return value;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object': {
      if (value === null) return null;
      if (depth > MAX_FAST_DEPTH) throw SLOW;
      const proto = Object.getPrototypeOf(value);
      if (proto === Date.prototype && !Object.hasOwn(value, 'toJSON')) {
        const iso = (value as Date).toJSON();
        return iso === null ? null : packString(iso);
      }
      if ('toJSON' in value) throw SLOW;
      if (Array.isArray(value)) {
        const out = new Array(value.length);
        for (let i = 0; i < value.length; i++) out[i] = packable(value[i], depth + 1) ?? null;
        return out;
      }

      if (proto !== Object.prototype && proto !== null) throw SLOW;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        if (key === '__proto__' || !key.isWellFormed()) throw SLOW;
        const v = packable((value as Record<string, unknown>)[key], depth + 1);
        if (v !== undefined) out[key] = v;
      }
      return out;
    }
    default:
      throw SLOW; // bigint: JSON throws, and so will the JSON way
  }
}

/** Turns the bytes packHex made back into hex strings, in place (the objects are msgpackr's fresh ones). */
function unpackHex(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = unpackHex(value[i]);
  } else if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of Object.keys(obj)) obj[key] = unpackHex(obj[key]);
  }
  return value;
}

/** The cookie's presence mask when it can be compacted: it comes first, with only known keys in order. */
function cookieMask(session: Record<string, unknown>): number | null {
  const keys = Object.keys(session);
  const cookie = session.cookie;
  if (keys[0] !== 'cookie' || cookie === null || typeof cookie !== 'object' || Array.isArray(cookie)) return null;
  let mask = 0;
  let last = -1;
  for (const key of Object.keys(cookie)) {
    const at = COOKIE_KEYS.indexOf(key);
    if (at <= last) return null; // unknown key, or not in Cookie#toJSON's order
    mask |= 1 << at;
    last = at;
  }
  return mask;
}

export const compactSerializer: Serializer = {
  id: 1,
  serialize(session, expiresAt) {
    let packed: Record<string, unknown>;
    try {
      packed = packable(session, 0) as Record<string, unknown>;
    } catch (err) {
      if (err !== SLOW) throw err;
      const text = JSON.stringify(session);
      if (text === undefined) throw new TypeError('the session serialises to nothing');
      // JSON text when MessagePack would not give the same back: "__proto__" keys (renamed by
      // msgpackr) and lone UTF-16 surrogates (JSON.stringify escapes them; UTF-8 cannot hold them)
      if (text.includes('"__proto__"') || LONE_SURROGATE.test(text)) {
        return Buffer.concat([Buffer.of(2), Buffer.from(text, 'utf8')]);
      }
      packed = packHex(JSON.parse(text) as Json) as Record<string, unknown>;
    }
    if (packed === undefined || packed === null || typeof packed !== 'object' || Array.isArray(packed)) {
      throw new TypeError('the session is not an object');
    }
    const mask = cookieMask(packed);
    if (mask === null) return Buffer.concat([Buffer.of(0), packr.pack(packed)]);
    const cookie = packed.cookie as Record<string, unknown>;
    let fullMask = mask;
    if (
      expiresAt !== null &&
      typeof cookie.expires === 'string' &&
      cookie.expires === new Date(expiresAt).toISOString()
    ) {
      fullMask |= EXPIRES_FROM_ENVELOPE;
    }
    const values: unknown[] = [];
    COOKIE_KEYS.forEach((k, i) => {
      if (mask & (1 << i) && !(k === 'expires' && fullMask & EXPIRES_FROM_ENVELOPE)) values.push(cookie[k]);
    });
    const { cookie: _omit, ...rest } = packed;
    return Buffer.concat([Buffer.of(1, fullMask >> 8, fullMask & 0xff), packr.pack(values), packr.pack(rest)]);
  },
  deserialize(bytes, expiresAt) {
    const kind = bytes[0];
    if (kind === 0) return unpackHex(packr.unpack(bytes.subarray(1)));
    if (kind === 2) return JSON.parse(bytes.toString('utf8', 1));
    if (kind !== 1 || bytes.length < 3) throw new TypeError(`unknown compact payload kind ${kind}`);
    const fullMask = ((bytes[1] as number) << 8) | (bytes[2] as number);
    const [values, rest] = packr.unpackMultiple(bytes.subarray(3)) as [unknown[], Record<string, unknown>];
    if (!Array.isArray(values) || rest === null || typeof rest !== 'object')
      throw new TypeError('broken compact payload');
    const cookie: Record<string, unknown> = {};
    let next = 0;
    COOKIE_KEYS.forEach((k, i) => {
      if (!(fullMask & (1 << i))) return;
      if (k === 'expires' && fullMask & EXPIRES_FROM_ENVELOPE) {
        if (expiresAt === null) throw new TypeError('cookie expiry refers to an envelope without one');
        cookie.expires = new Date(expiresAt).toISOString();
      } else {
        cookie[k] = unpackHex(values[next++]);
      }
    });
    return { cookie, ...(unpackHex(rest) as object) };
  },
};
