import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createCodec } from '../../src/codec/codec.js';
import { BUILTIN_COMPRESSORS, fromCustomCompressor } from '../../src/codec/compressors.js';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { fromCustomSerializer, jsonSerializer } from '../../src/codec/serializers.js';
import { CorruptValueError, SessionEncodeError } from '../../src/store/errors.js';

/** The codec throws synchronously when its codecs are synchronous: as a promise, either way. */
const settled = <T>(f: () => T | Promise<T>): Promise<T> => Promise.resolve().then(f);

const big = { cart: Array.from({ length: 60 }, (_, i) => ({ sku: `SKU-${i}`, qty: 1, note: 'same words again' })) };
const small = { user: 1 };

describe('codec', () => {
  it.each(['snappy', 'gzip', 'brotli'] as const)(
    'compresses big sessions with %s and reads them back',
    async (name) => {
      const codec = createCodec({
        serializer: jsonSerializer,
        compressor: BUILTIN_COMPRESSORS[name],
        compressMinLength: 400,
      });
      const value = await codec.encode(big, 123);
      expect(decodeEnvelope(value).compressor).toBe(BUILTIN_COMPRESSORS[name].id);
      expect(value.length).toBeLessThan(JSON.stringify(big).length);
      expect(await codec.decode(value)).toEqual({ session: big, expiresAt: 123 });
    },
  );

  it('leaves payloads under compressMinLength alone', async () => {
    const codec = createCodec({
      serializer: jsonSerializer,
      compressor: BUILTIN_COMPRESSORS.snappy,
      compressMinLength: 400,
    });
    expect(decodeEnvelope(await codec.encode(small, null)).compressor).toBe(0);
  });

  it('keeps the uncompressed form when compression does not shrink it', async () => {
    const random = { blob: Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7919) % 251)).toString('latin1') };
    const grow = fromCustomCompressor({
      id: 9,
      compress: (b) => Buffer.concat([b, b]),
      decompress: (b) => b.subarray(0, b.length / 2),
    });
    const codec = createCodec({ serializer: jsonSerializer, compressor: grow, compressMinLength: 0 });
    expect(decodeEnvelope(await codec.encode(random, null)).compressor).toBe(0);
  });

  it('reads values written with any built-in compressor, whatever it writes with now', async () => {
    const writer = createCodec({
      serializer: jsonSerializer,
      compressor: BUILTIN_COMPRESSORS.gzip,
      compressMinLength: 0,
    });
    const reader = createCodec({ serializer: jsonSerializer, compressor: null, compressMinLength: 0 });
    expect((await reader.decode(await writer.encode(big, null))).session).toEqual(big);
  });

  it('reads a custom serializer only when it is configured or listed as legacy', async () => {
    const reversed = fromCustomSerializer({
      id: 'rev-json',
      stringify: (s) => [...JSON.stringify(s)].reverse().join(''),
      parse: (t) => JSON.parse([...t].reverse().join('')),
    });
    const writer = createCodec({ serializer: reversed, compressor: null, compressMinLength: 0 });
    const value = await writer.encode(small, null);
    const plain = createCodec({ serializer: jsonSerializer, compressor: null, compressMinLength: 0 });
    await expect(settled(() => plain.decode(value))).rejects.toThrow(/unknown serializer "rev-json"/);
    const legacy = createCodec({
      serializer: jsonSerializer,
      compressor: null,
      compressMinLength: 0,
      readable: { serializers: [reversed] },
    });
    expect((await legacy.decode(value)).session).toEqual(small);
  });

  it('accepts asynchronous custom codecs (zlib through promisify)', async () => {
    const asyncGzip = fromCustomCompressor({ id: 'agz', compress: promisify(gzip), decompress: promisify(gunzip) });
    const asyncJson = fromCustomSerializer({
      id: 10,
      stringify: async (s) => JSON.stringify(s),
      parse: async (t) => JSON.parse(t),
    });
    const codec = createCodec({ serializer: asyncJson, compressor: asyncGzip, compressMinLength: 0 });
    const value = await codec.encode(big, null);
    expect(decodeEnvelope(value)).toMatchObject({ serializer: 10, compressor: 'agz' });
    expect((await codec.decode(value)).session).toEqual(big);
  });

  it('writes numeric ids outside 8..14 as names, so they never pass for a built-in codec', async () => {
    const custom = fromCustomCompressor({ id: 1, compress: (b) => b.subarray(0, 10), decompress: (b) => b });
    expect(custom.id).toBe('#1');
    const codec = createCodec({ serializer: jsonSerializer, compressor: custom, compressMinLength: 0 });
    expect(decodeEnvelope(await codec.encode(big, null)).compressor).toBe('#1');
  });

  it('refuses to encode what JSON cannot hold, and wraps a failing compressor', async () => {
    const codec = createCodec({ serializer: jsonSerializer, compressor: null, compressMinLength: 0 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(settled(() => codec.encode(cyclic, null))).rejects.toThrow(SessionEncodeError);
    await expect(settled(() => codec.encode({ n: 1n }, null))).rejects.toThrow(SessionEncodeError);
    const broken = fromCustomCompressor({
      id: 11,
      compress: () => {
        throw new Error('disk on fire');
      },
      decompress: (b) => b,
    });
    const failing = createCodec({ serializer: jsonSerializer, compressor: broken, compressMinLength: 0 });
    await expect(settled(() => failing.encode(big, null))).rejects.toThrow(/cannot be compressed: disk on fire/);
  });

  it('reports broken compressed data and broken JSON as corrupt', async () => {
    const codec = createCodec({
      serializer: jsonSerializer,
      compressor: BUILTIN_COMPRESSORS.snappy,
      compressMinLength: 0,
    });
    const good = await codec.encode(big, null);
    const broken = Buffer.from(good);
    broken.fill(0xff, 4, 40);
    await expect(settled(() => codec.decode(broken))).rejects.toThrow(CorruptValueError);
    const badJson = Buffer.concat([Buffer.from([0xa2, 0x00]), Buffer.from('{"a":')]);
    await expect(settled(() => codec.decode(badJson))).rejects.toThrow(CorruptValueError);
    const notObject = Buffer.concat([Buffer.from([0xa2, 0x00]), Buffer.from('[1,2]')]);
    await expect(settled(() => codec.decode(notObject))).rejects.toThrow(CorruptValueError);
    // a snappy header that claims 2^32 bytes is refused before anything is allocated
    const huge = Buffer.from([0xa2, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    await expect(settled(() => codec.decode(huge))).rejects.toThrow(/oversized/);
  });
});
