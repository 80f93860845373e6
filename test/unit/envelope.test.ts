import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  EXPIRY_OFFSET,
  encodeEnvelope,
  FORMAT_NO_EXPIRY,
  FORMAT_WITH_EXPIRY,
} from '../../src/codec/envelope.js';
import { CorruptValueError } from '../../src/store/errors.js';

const payload = Buffer.from('{"a":1}');

describe('envelope', () => {
  it('puts the expiry big-endian at a fixed offset, where Lua reads it', () => {
    const expiresAt = Date.UTC(2030, 0, 1);
    const v = encodeEnvelope({ serializer: 0, compressor: 1, expiresAt }, payload);
    expect(v[0]).toBe(FORMAT_WITH_EXPIRY);
    expect(v[0]).toBe(0xa3);
    expect(v[1]).toBe(0x01);
    // what bucket_scan.lua computes from string.byte(v, 3, 8)
    const bytes = [...v.subarray(EXPIRY_OFFSET, EXPIRY_OFFSET + 6)];
    expect(bytes.reduce((acc, b) => acc * 256 + b, 0)).toBe(expiresAt);
    expect(v.subarray(8).equals(payload)).toBe(true);
  });

  it('omits the expiry when there is none (string mode) and costs two bytes', () => {
    const v = encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: null }, payload);
    expect(v[0]).toBe(FORMAT_NO_EXPIRY);
    expect(v.length).toBe(payload.length + 2);
    expect(decodeEnvelope(v)).toEqual({ serializer: 0, compressor: 0, expiresAt: null, payload });
  });

  it('round-trips named codecs after the fixed header, keeping the expiry offset', () => {
    const expiresAt = 1_700_000_000_123;
    const v = encodeEnvelope({ serializer: 'msgpack-x', compressor: 'zstd', expiresAt }, payload);
    expect(v.readUIntBE(EXPIRY_OFFSET, 6)).toBe(expiresAt);
    const env = decodeEnvelope(v);
    expect(env).toMatchObject({ serializer: 'msgpack-x', compressor: 'zstd', expiresAt });
    expect(env.payload.equals(payload)).toBe(true);
  });

  it('rejects out-of-range expiries instead of writing garbage', () => {
    expect(() => encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: -1 }, payload)).toThrow(RangeError);
    expect(() => encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: 2 ** 48 }, payload)).toThrow(RangeError);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([0xa3])],
    ['foreign first byte', Buffer.from('{"json":"from another store"}')],
    ['future version', Buffer.from([0xa4, 0x00, 1, 2])],
    ['truncated expiry', Buffer.from([0xa3, 0x00, 1, 2, 3])],
    ['truncated codec name', Buffer.from([0xa2, 0xf0, 9, 0x41])],
    ['zero-length codec name', Buffer.from([0xa2, 0xf0, 0])],
  ])('throws CorruptValueError on %s', (_name, value) => {
    expect(() => decodeEnvelope(value)).toThrow(CorruptValueError);
  });
});
