import { CorruptValueError } from '../store/errors.js';

/*
 * Every stored value starts with a small binary header. Two formats, both always readable:
 *
 * Format 1 (any serializer and compressor):
 *   byte 0      0xA0 magic | version 1 << 1 | hasExpiry                (0xA2 without, 0xA3 with expiry)
 *   byte 1      codec: serializer id << 4 | compressor id               (id 15 = "named", see below)
 *   bytes 2..7  absolute expiry, Unix ms, unsigned 48-bit big-endian   (only when hasExpiry)
 *   then        for a named serializer, then a named compressor: 1 length byte + ASCII name
 *   then        the payload
 *
 * Format 2 (the 'compact' serializer, id 2, uncompressed: what nearly every session is written in):
 *   byte 0      0xB0 | hasExpiry                                       (0xB0 without, 0xB1 with expiry)
 *   bytes 1..6  absolute expiry, as above                              (only when hasExpiry)
 *   then        the payload
 * One byte less than format 1: the codec is implied by the format byte. Other 0xB2..0xBF bytes are
 * reserved for later formats (a new compact dictionary, say) and are not ours until then.
 *
 * The expiry sits at a fixed offset and width per format so Lua can compare it without decoding
 * the payload: every script reads it through one prelude, src/lua/prelude.lua.
 */

export const MAGIC = 0xa0;
export const VERSION = 1;
export const FORMAT_NO_EXPIRY = MAGIC | (VERSION << 1);
export const FORMAT_WITH_EXPIRY = FORMAT_NO_EXPIRY | 1;
export const EXPIRY_OFFSET = 2;
export const EXPIRY_BYTES = 6;
export const FORMAT2_NO_EXPIRY = 0xb0;
export const FORMAT2_WITH_EXPIRY = 0xb1;
export const FORMAT2_EXPIRY_OFFSET = 1;
/** The serializer and compressor format 2 stands for ('compact' id 2, no compression). */
const FORMAT2_CODEC = { serializer: 2, compressor: 0 } as const;
/** Codec id meaning "the codec is named by a length-prefixed string after the fixed header". */
export const NAMED_CODEC = 15;
export const MAX_EXPIRY_MS = 2 ** 48 - 1;
const MAX_NAME_BYTES = 32;

export interface Header {
  serializer: number | string;
  compressor: number | string;
  /** Absolute expiry in Unix ms, or null when the value carries none (string mode: Redis expires the key). */
  expiresAt: number | null;
}

export interface Envelope extends Header {
  payload: Buffer;
}

function codecNibble(id: number | string): number {
  return typeof id === 'string' ? NAMED_CODEC : id;
}

function nameBytes(id: number | string): Buffer | null {
  if (typeof id !== 'string') return null;
  const bytes = Buffer.from(id, 'latin1');
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES) {
    throw new RangeError(`codec name must be 1..${MAX_NAME_BYTES} characters: ${JSON.stringify(id)}`);
  }
  return bytes;
}

function writeExpiry(out: Buffer, at: number, expiresAt: number): void {
  if (!Number.isInteger(expiresAt) || expiresAt < 0 || expiresAt > MAX_EXPIRY_MS) {
    throw new RangeError(`expiry out of range: ${expiresAt}`);
  }
  out.writeUIntBE(expiresAt, at, EXPIRY_BYTES);
}

/** An expiry alone, as the envelope stores it (hash_touch.lua patches it into a stored value). */
export function encodeExpiry(expiresAt: number): Buffer {
  const out = Buffer.allocUnsafe(EXPIRY_BYTES);
  writeExpiry(out, 0, expiresAt);
  return out;
}

export function encodeEnvelope(header: Header, payload: Buffer): Buffer {
  const { serializer, compressor, expiresAt } = header;
  if (serializer === FORMAT2_CODEC.serializer && compressor === FORMAT2_CODEC.compressor) {
    const out = Buffer.allocUnsafe((expiresAt === null ? 1 : 1 + EXPIRY_BYTES) + payload.length);
    out[0] = expiresAt === null ? FORMAT2_NO_EXPIRY : FORMAT2_WITH_EXPIRY;
    if (expiresAt !== null) writeExpiry(out, FORMAT2_EXPIRY_OFFSET, expiresAt);
    payload.copy(out, expiresAt === null ? 1 : 1 + EXPIRY_BYTES);
    return out;
  }
  const names = [nameBytes(serializer), nameBytes(compressor)].filter((b): b is Buffer => b !== null);
  let fixed = expiresAt === null ? 2 : 2 + EXPIRY_BYTES;
  for (const n of names) fixed += 1 + n.length;
  const out = Buffer.allocUnsafe(fixed + payload.length);
  out[0] = expiresAt === null ? FORMAT_NO_EXPIRY : FORMAT_WITH_EXPIRY;
  out[1] = (codecNibble(serializer) << 4) | codecNibble(compressor);
  let at = 2;
  if (expiresAt !== null) {
    writeExpiry(out, at, expiresAt);
    at += EXPIRY_BYTES;
  }
  for (const n of names) {
    out[at] = n.length;
    n.copy(out, at + 1);
    at += 1 + n.length;
  }
  payload.copy(out, at);
  return out;
}

/** Reads the header only; cheap enough to call on every get. Throws CorruptValueError. */
export function decodeEnvelope(value: Buffer): Envelope {
  if (value.length < 1) throw new CorruptValueError('value shorter than the header');
  const format = value[0] as number;
  if (format === FORMAT2_WITH_EXPIRY || format === FORMAT2_NO_EXPIRY) {
    // literals, not a spread of FORMAT2_CODEC: V8 spreads an object ~100x slower (on every get)
    if (format === FORMAT2_NO_EXPIRY)
      return { serializer: 2, compressor: 0, expiresAt: null, payload: value.subarray(1) };
    const at = FORMAT2_EXPIRY_OFFSET + EXPIRY_BYTES;
    if (value.length < at) throw new CorruptValueError('value truncated inside the expiry');
    const expiresAt = value.readUIntBE(FORMAT2_EXPIRY_OFFSET, EXPIRY_BYTES);
    return { serializer: 2, compressor: 0, expiresAt, payload: value.subarray(at) };
  }
  if (format !== FORMAT_NO_EXPIRY && format !== FORMAT_WITH_EXPIRY) {
    throw new CorruptValueError(`unknown format byte 0x${format.toString(16).padStart(2, '0')}`);
  }
  if (value.length < 2) throw new CorruptValueError('value shorter than the header');
  const codec = value[1] as number;
  let at = 2;
  let expiresAt: number | null = null;
  if (format === FORMAT_WITH_EXPIRY) {
    if (value.length < at + EXPIRY_BYTES) throw new CorruptValueError('value truncated inside the expiry');
    expiresAt = value.readUIntBE(at, EXPIRY_BYTES);
    at += EXPIRY_BYTES;
  }
  const readId = (nibble: number): number | string => {
    if (nibble !== NAMED_CODEC) return nibble;
    const len = value[at];
    if (len === undefined || len === 0 || len > MAX_NAME_BYTES || value.length < at + 1 + len) {
      throw new CorruptValueError('value truncated inside a codec name');
    }
    const name = value.toString('latin1', at + 1, at + 1 + len);
    at += 1 + len;
    return name;
  };
  const serializer = readId(codec >> 4);
  const compressor = readId(codec & 0x0f);
  return { serializer, compressor, expiresAt, payload: value.subarray(at) };
}

/**
 * The expiry of a stored value without decoding it, as src/lua/prelude.lua reads it: Unix ms,
 * null when it carries none, undefined when it is not one of our envelopes.
 */
export function readExpiry(value: Buffer): number | null | undefined {
  const format = value[0];
  const at =
    format === FORMAT_WITH_EXPIRY ? EXPIRY_OFFSET : format === FORMAT2_WITH_EXPIRY ? FORMAT2_EXPIRY_OFFSET : null;
  if (at === null) return format === FORMAT_NO_EXPIRY || format === FORMAT2_NO_EXPIRY ? null : undefined;
  return value.length < at + EXPIRY_BYTES ? undefined : value.readUIntBE(at, EXPIRY_BYTES);
}
