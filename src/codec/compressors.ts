import * as zlib from 'node:zlib';
import { compressSync, uncompressSync } from 'snappy';
import { codecId, isThenable } from './serializers.js';

/** A compressor as the codec uses it. The built-in ones are synchronous; a custom one may return promises. */
export interface Compressor {
  readonly id: number | string;
  compress(bytes: Buffer): Buffer | Promise<Buffer>;
  decompress(bytes: Buffer): Buffer | Promise<Buffer>;
}

/**
 * A user-supplied compressor; `id` is written into every compressed value (8..14 fit in the header
 * byte; any other integer or a name of 1..32 characters costs its length + 1 bytes per value).
 * Synchronous functions are cheaper on the request path, but promises (zlib's callback API through
 * promisify) work too.
 */
export interface CustomCompressor {
  id: number | string;
  compress(bytes: Buffer): Uint8Array | Promise<Uint8Array>;
  decompress(bytes: Buffer): Uint8Array | Promise<Uint8Array>;
}

export type CompressionName = 'snappy' | 'gzip' | 'brotli' | 'none';
export type CompressionOption = CompressionName | CustomCompressor;

export const BUILTIN_COMPRESSOR_IDS = { none: 0, snappy: 1, gzip: 2, brotli: 3 } as const;

/** No session decompresses to more than this; a value that claims more is corrupt, not allocated. */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** Snappy's raw format starts with the uncompressed length as a little-endian base-128 varint. */
function snappyDeclaredLength(b: Buffer): number {
  let length = 0;
  for (let i = 0; i < 5 && i < b.length; i++) {
    const byte = b[i] as number;
    length += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return length;
  }
  return Number.POSITIVE_INFINITY;
}

const asBuffer = (u: unknown): Buffer => {
  if (Buffer.isBuffer(u)) return u;
  if (u instanceof Uint8Array) return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  throw new TypeError('a compressor must return a Buffer or Uint8Array');
};

export const BUILTIN_COMPRESSORS: Readonly<Record<Exclude<CompressionName, 'none'>, Compressor>> = {
  snappy: {
    id: BUILTIN_COMPRESSOR_IDS.snappy,
    compress: (b) => compressSync(b),
    decompress: (b) => {
      if (snappyDeclaredLength(b) > MAX_DECOMPRESSED_BYTES)
        throw new RangeError('snappy header declares an oversized value');
      return asBuffer(uncompressSync(b, { asBuffer: true }) as Buffer);
    },
  },
  gzip: {
    id: BUILTIN_COMPRESSOR_IDS.gzip,
    compress: (b) => zlib.gzipSync(b),
    decompress: (b) => zlib.gunzipSync(b, { maxOutputLength: MAX_DECOMPRESSED_BYTES }),
  },
  brotli: {
    id: BUILTIN_COMPRESSOR_IDS.brotli,
    // Quality 5: sessions are compressed on the request path, and 11 (the default) is ~50x slower.
    compress: (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } }),
    decompress: (b) => zlib.brotliDecompressSync(b, { maxOutputLength: MAX_DECOMPRESSED_BYTES }),
  },
};

export function isCustomCompressor(value: unknown): value is CustomCompressor {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.compress === 'function' && typeof v.decompress === 'function';
}

export function fromCustomCompressor(custom: CustomCompressor): Compressor {
  const wrap = (fn: (b: Buffer) => Uint8Array | Promise<Uint8Array>) => (b: Buffer) => {
    const out = fn.call(custom, b);
    return isThenable(out) ? Promise.resolve(out).then(asBuffer) : asBuffer(out);
  };
  return { id: codecId(custom.id), compress: wrap(custom.compress), decompress: wrap(custom.decompress) };
}
