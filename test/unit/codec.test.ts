import { describe, expect, it } from 'vitest';
import { createCodec } from '../../src/codec/codec.js';
import { BUILTIN_COMPRESSORS, fromCustomCompressor } from '../../src/codec/compressors.js';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { fromCustomSerializer, jsonSerializer } from '../../src/codec/serializers.js';
import { CorruptValueError, SessionEncodeError } from '../../src/store/errors.js';

const big = { cart: Array.from({ length: 60 }, (_, i) => ({ sku: `SKU-${i}`, qty: 1, note: 'same words again' })) };
const small = { user: 1 };

describe('codec', () => {
  it.each(['snappy', 'gzip', 'brotli'] as const)('compresses big sessions with %s and reads them back', (name) => {
    const codec = createCodec({
      serializer: jsonSerializer,
      compressor: BUILTIN_COMPRESSORS[name],
      compressMinLength: 400,
    });
    const value = codec.encode(big, 123);
    expect(decodeEnvelope(value).compressor).toBe(BUILTIN_COMPRESSORS[name].id);
    expect(value.length).toBeLessThan(JSON.stringify(big).length);
    expect(codec.decode(value)).toEqual({ session: big, expiresAt: 123 });
  });

  it('leaves payloads under compressMinLength alone', () => {
    const codec = createCodec({
      serializer: jsonSerializer,
      compressor: BUILTIN_COMPRESSORS.snappy,
      compressMinLength: 400,
    });
    expect(decodeEnvelope(codec.encode(small, null)).compressor).toBe(0);
  });

  it('keeps the uncompressed form when compression does not shrink it', () => {
    const random = { blob: Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7919) % 251)).toString('latin1') };
    const grow = fromCustomCompressor({
      id: 9,
      compress: (b) => Buffer.concat([b, b]),
      decompress: (b) => b.subarray(0, b.length / 2),
    });
    const codec = createCodec({ serializer: jsonSerializer, compressor: grow, compressMinLength: 0 });
    expect(decodeEnvelope(codec.encode(random, null)).compressor).toBe(0);
  });

  it('reads values written with any built-in compressor, whatever it writes with now', () => {
    const writer = createCodec({
      serializer: jsonSerializer,
      compressor: BUILTIN_COMPRESSORS.gzip,
      compressMinLength: 0,
    });
    const reader = createCodec({ serializer: jsonSerializer, compressor: null, compressMinLength: 0 });
    expect(reader.decode(writer.encode(big, null)).session).toEqual(big);
  });

  it('reads a custom serializer only when it is configured or listed as legacy', () => {
    const upper = fromCustomSerializer({
      id: 'rev-json',
      stringify: (s) => [...JSON.stringify(s)].reverse().join(''),
      parse: (t) => JSON.parse([...t].reverse().join('')),
    });
    const writer = createCodec({ serializer: upper, compressor: null, compressMinLength: 0 });
    const value = writer.encode(small, null);
    const plain = createCodec({ serializer: jsonSerializer, compressor: null, compressMinLength: 0 });
    expect(() => plain.decode(value)).toThrow(/unknown serializer "rev-json"/);
    const legacy = createCodec({
      serializer: jsonSerializer,
      compressor: null,
      compressMinLength: 0,
      readable: { serializers: [upper] },
    });
    expect(legacy.decode(value).session).toEqual(small);
  });

  it('refuses to encode what JSON cannot hold', () => {
    const codec = createCodec({ serializer: jsonSerializer, compressor: null, compressMinLength: 0 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => codec.encode(cyclic, null)).toThrow(SessionEncodeError);
    expect(() => codec.encode({ n: 1n }, null)).toThrow(SessionEncodeError);
  });

  it('reports broken compressed data and broken JSON as corrupt', () => {
    const codec = createCodec({
      serializer: jsonSerializer,
      compressor: BUILTIN_COMPRESSORS.snappy,
      compressMinLength: 0,
    });
    const good = codec.encode(big, null);
    const broken = Buffer.from(good);
    broken.fill(0xff, 4, 40);
    expect(() => codec.decode(broken)).toThrow(CorruptValueError);
    const badJson = Buffer.concat([Buffer.from([0xa2, 0x00]), Buffer.from('{"a":')]);
    expect(() => codec.decode(badJson)).toThrow(CorruptValueError);
    const notObject = Buffer.concat([Buffer.from([0xa2, 0x00]), Buffer.from('[1,2]')]);
    expect(() => codec.decode(notObject)).toThrow(CorruptValueError);
    // a snappy header that claims 2^32 bytes is refused before anything is allocated
    const huge = Buffer.from([0xa2, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    expect(() => codec.decode(huge)).toThrow(/oversized/);
  });
});
