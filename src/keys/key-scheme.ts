import { createHmac, createSecretKey } from 'node:crypto';

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
