import { createHmac, createSecretKey } from 'node:crypto';
import { MAX_SESSION_ID_LENGTH } from './session-id.js';

/*
 * Session id -> compact binary key. The first byte tags which rule produced the key, so two
 * different ids can never produce the same key (a 32-char hex id is also valid base64url, for
 * instance). Each rule is exact: it only applies when decoding and re-encoding gives the id back.
 *
 *   0x01 uuid       canonical lowercase 8-4-4-4-12 (koa-session)    36 chars -> 16 bytes
 *   0x02 hex        lowercase, even length (Django, md5/sha ids)    2n chars -> n bytes
 *   0x03 base64url  canonical base64url (express-session: 32 chars) 32 chars -> 24 bytes
 *   0x04 raw        anything else, as UTF-8
 *   0x05 hashed     with the idSecret option: HMAC-SHA256(secret, id), first 24 bytes
 */

export const KEY_TAG = { uuid: 0x01, hex: 0x02, base64url: 0x03, raw: 0x04, hashed: 0x05 } as const;

/** Bytes of HMAC kept: 192 bits, as many as an express-session id carries. */
export const HASHED_KEY_BYTES = 24;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX = /^(?:[0-9a-f]{2})+$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function tagged(tag: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = tag;
  body.copy(out, 1);
  return out;
}

/** The 6-bit value of a base64url character (the caller checked the alphabet). */
function base64urlValue(code: number): number {
  if (code >= 97) return code - 71; // a-z: 26..51
  if (code >= 65) return code === 95 ? 63 : code - 65; // A-Z: 0..25, '_': 63
  if (code >= 48) return code + 4; // 0-9: 52..61
  return 62; // '-'
}

/**
 * Whether decoding a base64url string (alphabet already checked) and encoding the bytes again
 * gives it back: no length that leaves a lone character, and no bits set in the last character
 * beyond the bytes it completes. The same test as a round trip, without the two conversions.
 */
export function isCanonicalBase64url(sid: string): boolean {
  const rest = sid.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = base64urlValue(sid.charCodeAt(sid.length - 1));
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/** The default keyGenerator. Assumes the id already passed sessionIdProblem. */
export function defaultKeyGenerator(sid: string): Buffer {
  if (sid.length === 36 && UUID.test(sid)) return tagged(KEY_TAG.uuid, Buffer.from(sid.replaceAll('-', ''), 'hex'));
  if (HEX.test(sid)) return tagged(KEY_TAG.hex, Buffer.from(sid, 'hex'));
  if (sid.length >= 4 && BASE64URL.test(sid) && isCanonicalBase64url(sid)) {
    // decoded straight behind the tag byte: every 4 characters are 3 bytes
    const out = Buffer.allocUnsafe(1 + ((sid.length * 3) >> 2));
    out[0] = KEY_TAG.base64url;
    out.write(sid, 1, 'base64url');
    return out;
  }
  return tagged(KEY_TAG.raw, Buffer.from(sid, 'utf8'));
}

/** base64url character code -> its 6-bit value, -1 outside the alphabet (codes >= 128 are outside too). */
const BASE64URL_VALUE = new Int8Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) {
  BASE64URL_VALUE[c.charCodeAt(0)] = i;
}

const isLowerHex = (code: number) => (code >= 48 && code <= 57) || (code >= 97 && code <= 102);

/**
 * The request path's way to defaultKeyGenerator's key for the ids express-session makes (32
 * base64url characters): validated and decoded in one pass, written at byte `room` of a new
 * Buffer (the caller fills the bytes in front: a string-mode key's prefix). null when the id is
 * anything else (not a string, a length that could be a uuid, all lowercase hex, outside the
 * base64url alphabet, not canonical, or one sessionIdProblem refuses): the general path then
 * decides. When not null, the key is exactly defaultKeyGenerator's, and sessionIdProblem(sid) is null.
 */
export function base64urlKeyAt(sid: unknown, room: number): Buffer | null {
  if (typeof sid !== 'string') return null;
  const n = sid.length;
  const rest = n & 3;
  if (n < 4 || n > MAX_SESSION_ID_LENGTH || n === 36 || rest === 1) return null;
  const values = BASE64URL_VALUE;
  const out = Buffer.allocUnsafe(room + 1 + ((n * 3) >> 2));
  let at = room;
  out[at++] = KEY_TAG.base64url;
  // an even-length id of lowercase hex digits takes the hex rule (see defaultKeyGenerator)
  let hex = (n & 1) === 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const ca = sid.charCodeAt(i);
    const cb = sid.charCodeAt(i + 1);
    const cc = sid.charCodeAt(i + 2);
    const cd = sid.charCodeAt(i + 3);
    if ((ca | cb | cc | cd) >= 128) return null;
    const a = values[ca] as number;
    const b = values[cb] as number;
    const c = values[cc] as number;
    const d = values[cd] as number;
    if ((a | b | c | d) < 0) return null;
    if (hex) hex = isLowerHex(ca) && isLowerHex(cb) && isLowerHex(cc) && isLowerHex(cd);
    const word = (a << 18) | (b << 12) | (c << 6) | d;
    out[at++] = word >> 16;
    out[at++] = (word >> 8) & 0xff;
    out[at++] = word & 0xff;
  }
  if (rest > 0) {
    const ca = sid.charCodeAt(i);
    const cb = sid.charCodeAt(i + 1);
    const cc = rest === 3 ? sid.charCodeAt(i + 2) : 65; // 'A': no bits
    if ((ca | cb | cc) >= 128) return null;
    const a = values[ca] as number;
    const b = values[cb] as number;
    const c = values[cc] as number;
    if ((a | b | c) < 0) return null;
    // canonical: no bits beyond the bytes the last character completes
    if ((rest === 2 ? b & 0x0f : c & 0x03) !== 0) return null;
    if (hex) hex = isLowerHex(ca) && isLowerHex(cb) && (rest === 2 || isLowerHex(cc));
    out[at++] = (a << 2) | (b >> 4);
    if (rest === 3) out[at++] = ((b & 0x0f) << 4) | (c >> 2);
  }
  return hex ? null : out;
}

/**
 * Whether bytes could be a key made by defaultKeyGenerator. Its tag bytes are control characters,
 * which no human-chosen prefix contains, so under prefix "rs:" the keys of a store with prefix
 * "rs:admin:" are told apart from ours.
 */
export function isDefaultKey(key: Buffer): boolean {
  const tag = key[0];
  return tag !== undefined && tag >= KEY_TAG.uuid && tag <= KEY_TAG.hashed && key.length >= 2;
}

/**
 * The key scheme with the idSecret option, as Rack does since CVE-2019-16782: the key is a keyed
 * hash of the id, so a dump of Redis (or a look at its keyspace) hands out no usable session ids.
 * The price: ids cannot be listed back from keys.
 */
export function hashedKeyGenerator(secret: Buffer): (sid: string) => Buffer {
  const key = createSecretKey(secret); // imported once, not on every id
  return (sid) => {
    const mac = createHmac('sha256', key).update(sid, 'utf8').digest();
    return tagged(KEY_TAG.hashed, mac.subarray(0, HASHED_KEY_BYTES));
  };
}

/**
 * The session id a defaultKeyGenerator key was made from, or null when it cannot be told: a hashed
 * key (idSecret) or a custom scheme. Used to list a user's sessions.
 */
export function idOfKey(key: Buffer): string | null {
  const body = key.subarray(1);
  switch (key[0]) {
    case KEY_TAG.uuid: {
      const hex = body.toString('hex');
      return hex.length === 32
        ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
        : null;
    }
    case KEY_TAG.hex:
      return body.toString('hex');
    case KEY_TAG.base64url:
      return body.toString('base64url');
    case KEY_TAG.raw:
      return body.toString('utf8');
    default:
      return null;
  }
}
