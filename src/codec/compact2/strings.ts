import type { Encoder } from './encode.js';
import { T } from './format.js';
import { parseIso } from './iso-date.js';

/*
 * Strings that are binary in disguise (ids, tokens, dates) stored as their bytes, only when
 * decoding them gives back exactly the same string: read.ts turns them back into text.
 */

/** Character code -> hex digit value, or -1. Indexed by any UTF-16 code unit. */
const HEX = new Int8Array(0x10000).fill(-1);
/** 1: a-f, 2: A-F (0 for digits). */
const HEX_CASE = new Uint8Array(0x10000);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  if (i >= 10) {
    HEX['ABCDEF'.charCodeAt(i - 10)] = i;
    HEX_CASE['abcdef'.charCodeAt(i - 10)] = 1;
    HEX_CASE['ABCDEF'.charCodeAt(i - 10)] = 2;
  }
}
/** Character code -> base64 value (both alphabets), or -1. */
const B64 = new Int8Array(0x10000).fill(-1);
const B64_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
for (let i = 0; i < 62; i++) B64[B64_CHARS.charCodeAt(i)] = i;
B64[0x2b] = 62; // +
B64[0x2f] = 63; // /
B64[0x2d] = 62; // -
B64[0x5f] = 63; // _
const DASH = 0x2d;

/** Writes `s` packed and returns true, or writes nothing and returns false. `s.length` >= 3. */
export function packString(enc: Encoder, s: string): boolean {
  const len = s.length;
  const c0 = s.charCodeAt(0);
  if (len === 36) {
    if (s.charCodeAt(8) === DASH && uuid(enc, s)) return true;
  } else if (len === 24 && s.charCodeAt(23) === 0x5a && s.charCodeAt(10) === 0x54 && isoDate(enc, s)) return true;
  if (c0 >= 0x31 && c0 <= 0x39 && len <= 15 && digits(enc, s)) return true;
  if ((len & 1) === 0 && len >= 4 && hex(enc, s)) return true;
  return len >= 6 && base64(enc, s);
}

/** A canonical UUID, all lowercase or all uppercase: 16 bytes. */
function uuid(enc: Encoder, s: string): boolean {
  if (s.charCodeAt(13) !== DASH || s.charCodeAt(18) !== DASH || s.charCodeAt(23) !== DASH) return false;
  enc.ensure(17);
  const buf = enc.buf;
  let at = enc.pos + 1;
  let cases = 0;
  for (let i = 0; i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    const hi = HEX[s.charCodeAt(i)] as number;
    const lo = HEX[s.charCodeAt(i + 1)] as number;
    if (hi < 0 || lo < 0) return false;
    cases |= (HEX_CASE[s.charCodeAt(i)] as number) | (HEX_CASE[s.charCodeAt(i + 1)] as number);
    buf[at++] = (hi << 4) | lo;
  }
  if (cases === 3) return false;
  buf[enc.pos] = cases === 2 ? T.uuidUpper : T.uuid;
  enc.pos = at;
  return true;
}

/** What Date#toISOString writes (24 characters, years 0..9999), at millisecond precision. */
function isoDate(enc: Encoder, s: string): boolean {
  const ms = parseIso(s);
  if (ms === null) return false;
  enc.byte(T.date);
  enc.zigzag(ms);
  return true;
}

/** A decimal number written as a string ("4217"): no leading zero, at most 15 digits. */
function digits(enc: Encoder, s: string): boolean {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return false;
    n = n * 10 + d;
  }
  enc.byte(T.digits);
  enc.varint(n);
  return true;
}

/** Hex of even length, one case: half the bytes. */
function hex(enc: Encoder, s: string): boolean {
  const n = s.length >> 1;
  enc.ensure(n + 9);
  const start = enc.pos;
  enc.pos++;
  enc.varint(n);
  const buf = enc.buf;
  let at = enc.pos;
  let cases = 0;
  for (let i = 0; i < s.length; i += 2) {
    const a = s.charCodeAt(i);
    const b = s.charCodeAt(i + 1);
    const hi = HEX[a] as number;
    const lo = HEX[b] as number;
    if (hi < 0 || lo < 0) {
      enc.pos = start;
      return false;
    }
    cases |= (HEX_CASE[a] as number) | (HEX_CASE[b] as number);
    buf[at++] = (hi << 4) | lo;
  }
  if (cases === 3) {
    enc.pos = start;
    return false;
  }
  buf[start] = cases === 2 ? T.hexUpper : T.hex;
  enc.pos = at;
  return true;
}

/**
 * Base64 or base64url, padded or not: 3/4 of the size. Only canonical text (the bits past the last
 * byte zero, padding exactly as encoding writes it) and only one alphabet's two extra characters.
 */
function base64(enc: Encoder, s: string): boolean {
  const len = s.length;
  let pad = 0;
  if (s.charCodeAt(len - 1) === 0x3d) pad = s.charCodeAt(len - 2) === 0x3d ? 2 : 1;
  const chars = len - pad;
  const tail = chars & 3;
  if (tail === 1 || (pad > 0 && ((len & 3) !== 0 || tail !== 4 - pad))) return false;
  const n = (chars >> 2) * 3 + (tail === 0 ? 0 : tail - 1);
  enc.ensure(n + 9);
  const start = enc.pos;
  enc.pos++;
  enc.varint(n);
  const buf = enc.buf;
  let at = enc.pos;
  let url = false;
  let std = false;
  let bits = 0;
  let acc = 0;
  for (let i = 0; i < chars; i++) {
    const c = s.charCodeAt(i);
    const v = B64[c] as number;
    if (v < 0) {
      enc.pos = start;
      return false;
    }
    if (v >= 62) {
      if (c === 0x2d || c === 0x5f) url = true;
      else std = true;
    }
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[at++] = (acc >> bits) & 0xff;
    }
  }
  // left-over bits must be zero, or encoding the bytes would give another last character
  if ((url && std) || (acc & ((1 << bits) - 1)) !== 0) {
    enc.pos = start;
    return false;
  }
  buf[start] = url
    ? pad > 0
      ? T.base64urlPadded
      : T.base64url
    : std || pad > 0
      ? pad > 0
        ? T.base64Padded
        : T.base64
      : T.base64url;
  enc.pos = at;
  return true;
}
