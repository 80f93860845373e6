/*
 * A string's UTF-16 code units, copied by one native call into a reused Uint16Array, for the
 * request path's character loops (session ids, the compact encoder's strings).
 *
 * Why not String#charCodeAt: V8 (Node 20) stops inlining it, in the whole process, once any class
 * extends String, and ioredis 6 does (its RESP decoder's VerbatimString; node-redis 5 has one
 * too). Measured with ioredis loaded: a 32-character loop of charCodeAt takes ~300 ns, the copy
 * and a loop over the array ~80 ns. The array holds exactly what charCodeAt returns (lone
 * surrogates included: 'utf16le' copies code units as they are).
 */

/** Strings longer than this are read with charCodeAt (rare on the request path; bounds the scratch). */
const MAX_COPIED = 8192;
/** The copy is the host's byte order only on little-endian hosts (x86, ARM): elsewhere, charCodeAt. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let units = new Uint16Array(256);
let bytes = Buffer.from(units.buffer, units.byteOffset, units.byteLength);

/**
 * The code units of `s` (`codeUnits(s)[i] === s.charCodeAt(i)` for i < s.length). The array is
 * shared and longer than `s`: read it before the next call, and only up to `s.length`.
 */
export function codeUnits(s: string): Uint16Array {
  const n = s.length;
  if (!LITTLE_ENDIAN || n > MAX_COPIED) return slowCodeUnits(s);
  if (n > units.length) {
    units = new Uint16Array(Math.max(n, units.length * 2));
    bytes = Buffer.from(units.buffer, units.byteOffset, units.byteLength);
  }
  bytes.write(s, 0, n * 2, 'utf16le');
  return units;
}

function slowCodeUnits(s: string): Uint16Array {
  const out = new Uint16Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
