import { Packr } from 'msgpackr';
import type { Serializer } from './serializers.js';

/*
 * The 'compact' serializer: what JSON would store, in far fewer bytes, so that a typical session
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

function unpackHex(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (Array.isArray(value)) return value.map(unpackHex);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unpackHex(v)]));
  return value;
}

/** The cookie's presence mask when it can be compacted: it comes first, with only known keys in order. */
function cookieMask(session: Record<string, Json>): number | null {
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
    const text = JSON.stringify(session);
    if (text === undefined) throw new TypeError('the session serialises to nothing');
    // JSON text when MessagePack would not give the same back: "__proto__" keys (renamed by
    // msgpackr) and lone UTF-16 surrogates (JSON.stringify escapes them; UTF-8 cannot hold them)
    if (text.includes('"__proto__"') || LONE_SURROGATE.test(text)) {
      return Buffer.concat([Buffer.of(2), Buffer.from(text, 'utf8')]);
    }
    const json = JSON.parse(text) as Record<string, Json>;
    const mask = cookieMask(json);
    if (mask === null) return Buffer.concat([Buffer.of(0), packr.pack(packHex(json))]);
    const cookie = json.cookie as Record<string, Json>;
    let fullMask = mask;
    if (
      expiresAt !== null &&
      typeof cookie.expires === 'string' &&
      cookie.expires === new Date(expiresAt).toISOString()
    ) {
      fullMask |= EXPIRES_FROM_ENVELOPE;
    }
    const values = COOKIE_KEYS.filter(
      (k, i) => mask & (1 << i) && !(k === 'expires' && fullMask & EXPIRES_FROM_ENVELOPE),
    ).map((k) => cookie[k] as Json);
    const { cookie: _omit, ...rest } = json;
    return Buffer.concat([
      Buffer.of(1, fullMask >> 8, fullMask & 0xff),
      packr.pack(packHex(values)),
      packr.pack(packHex(rest)),
    ]);
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
