/*
 * The 'compact' serializer, format 2 (serializer id 2): what JSON would store, in a byte format
 * made for sessions. Values written with it must stay readable forever: never change the meaning
 * of a tag or a dictionary entry; a change is a new format (a new serializer id or envelope variant).
 *
 * The payload is the session object's members, each a key then a value, up to the end of the
 * payload (the root needs no count). An empty session is an empty payload. A payload whose first
 * byte is KEY_JSON_TEXT holds JSON text instead (sessions nested deeper than MAX_DEPTH).
 *
 * Key byte:
 *   0x00..0x9F  built-in key name (dictionary.ts KEYS, by index)
 *   0xA0..0xFB  a key of 0..91 bytes of ASCII follows
 *   0xFC        varint byte length, then UTF-8
 *   0xFD        varint length in UTF-16 code units, then UTF-16LE (keys with lone surrogates)
 *   0xFE        reserved
 *   0xFF        (first byte of the payload only) JSON text follows
 *
 * Value byte:
 *   0x00..0x3F  the integer 0..63
 *   0x40..0x5F  a string of 0..31 ASCII bytes follows
 *   0x60..0x9F  built-in small value (dictionary.ts VALUES, by index)
 *   0xA0..0xAF  array of 0..15 values
 *   0xB0..0xBF  object of 0..15 members
 *   0xC0 null   0xC1 false   0xC2 true
 *   0xC3 varint: integer >= 64          0xC4 varint n: the integer -1 - n
 *   0xC5 float64 little-endian          0xC6..0xC9 zigzag varint m: m / 10^1..10^4 (prices)
 *   0xCA varint length, UTF-8 string    0xCB varint length, UTF-16LE string (lone surrogates)
 *   0xCC varint count, array            0xCD varint count, object
 *   0xCE varint: a decimal digit string without leading zeros ("4217", user ids as strings)
 *   0xCF varint byte count, bytes: lowercase hex string   0xD0 the same, uppercase hex
 *   0xD1 16 bytes: lowercase UUID       0xD2 16 bytes: uppercase UUID
 *   0xD3..0xD6 varint byte count, bytes: base64url, base64url with '=' padding, base64,
 *              base64 with padding (only when decoding and encoding again gives the string back)
 *   0xD7 zigzag varint ms: a Date.toISOString() string ("2026-11-30T16:23:50.723Z")
 *   0xD8 the envelope's expiry as a toISOString() string (written only for cookie.expires)
 *   0xD9 express-session's cookie: two flag bytes, then some of its values (cookie.ts)
 *   0xDA..0xFF  reserved
 *
 * Varints are unsigned LEB128 (7 bits a byte, low first) up to 2^53; zigzag maps n to 2n (n >= 0)
 * or -2n - 1. Binary-looking strings are packed only when the round trip is exact: a UUID with
 * mixed case, base64 whose last character has stray bits, or a date with microseconds or an
 * offset stays a string.
 */

export const KEY_DICT_END = 0xa0;
export const KEY_ASCII = 0xa0;
export const KEY_ASCII_MAX = 0xfb - 0xa0;
export const KEY_UTF8 = 0xfc;
export const KEY_UTF16 = 0xfd;
export const KEY_JSON_TEXT = 0xff;

export const INT_MAX_INLINE = 0x3f;
export const FIXSTR = 0x40;
export const FIXSTR_MAX = 0x1f;
export const VALUE_DICT = 0x60;
export const VALUE_DICT_SIZE = 0x40;
export const FIXARRAY = 0xa0;
export const FIXOBJECT = 0xb0;
export const FIX_COUNT_MAX = 0x0f;

export const T = {
  null: 0xc0,
  false: 0xc1,
  true: 0xc2,
  uint: 0xc3,
  negint: 0xc4,
  float64: 0xc5,
  /** + 0..3: mantissa / 10^(1..4) */
  decimal: 0xc6,
  utf8: 0xca,
  utf16: 0xcb,
  array: 0xcc,
  object: 0xcd,
  digits: 0xce,
  hex: 0xcf,
  hexUpper: 0xd0,
  uuid: 0xd1,
  uuidUpper: 0xd2,
  base64url: 0xd3,
  base64urlPadded: 0xd4,
  base64: 0xd5,
  base64Padded: 0xd6,
  date: 0xd7,
  expiry: 0xd8,
  cookie: 0xd9,
} as const;

/** Deeper than this the session is stored as JSON text (and cycles are found by JSON.stringify). */
export const MAX_DEPTH = 500;
