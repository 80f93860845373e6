import { SessionEncodeError } from '../store/errors.js';

/** A serializer as the codec uses it: bytes in, bytes out (a custom one may answer with a promise). */
export interface Serializer {
  readonly id: number | string;
  /** `expiresAt` is the envelope's expiry (null in string mode): a serializer may rely on it. */
  serialize(session: unknown, expiresAt: number | null): Buffer | Promise<Buffer>;
  deserialize(bytes: Buffer, expiresAt: number | null): unknown;
}

/**
 * A user-supplied serializer. Give either serialize/deserialize (bytes) or stringify/parse (text,
 * so `{ id: 'json5', ...JSON5 }` works); they may return promises. `id` is written into every
 * value: 8..14 fit in the header byte; any other integer or a name of 1..32 characters costs its
 * length + 1 bytes per value.
 */
export interface CustomSerializer {
  id: number | string;
  serialize?(session: unknown): string | Uint8Array | Promise<string | Uint8Array>;
  deserialize?(bytes: Buffer): unknown;
  stringify?(session: unknown): string | Promise<string>;
  parse?(text: string): unknown;
}

/** Codec ids 8..14 fit in the header's nibble; any other number is written as the name "#n". */
export function codecId(id: number | string): number | string {
  return typeof id === 'number' && !(id >= 8 && id <= 14) ? `#${id}` : id;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** 'compact' writes format 2; 'compact-v1' the format before it (for a rolling upgrade, see the README). */
export type SerializerOption = 'json' | 'compact' | 'compact-v1' | CustomSerializer;

export const BUILTIN_SERIALIZER_IDS = { json: 0, 'compact-v1': 1, compact: 2 } as const;

export const jsonSerializer: Serializer = {
  id: BUILTIN_SERIALIZER_IDS.json,
  serialize(session) {
    const text = JSON.stringify(session);
    if (text === undefined) throw new TypeError('the session serialises to nothing');
    return Buffer.from(text, 'utf8');
  },
  deserialize(bytes) {
    return JSON.parse(bytes.toString('utf8'));
  },
};

export function isCustomSerializer(value: unknown): value is CustomSerializer {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const bytes = typeof v.serialize === 'function' && typeof v.deserialize === 'function';
  const text = typeof v.stringify === 'function' && typeof v.parse === 'function';
  return bytes || text;
}

/** Normalises a custom serializer to the bytes-in/bytes-out shape. */
export function fromCustomSerializer(custom: CustomSerializer): Serializer {
  const id = codecId(custom.id);
  const bytes = typeof custom.serialize === 'function' && typeof custom.deserialize === 'function';
  const serialize = (bytes ? custom.serialize : custom.stringify) as (s: unknown) => unknown;
  const deserialize = (bytes ? custom.deserialize : custom.parse) as (input: unknown) => unknown;
  return {
    id,
    serialize: (session) => {
      const out = serialize.call(custom, session);
      return isThenable(out) ? Promise.resolve(out).then(toBuffer) : toBuffer(out);
    },
    deserialize: (buf) => deserialize.call(custom, bytes ? buf : buf.toString('utf8')),
  };
}

function toBuffer(out: unknown): Buffer {
  if (typeof out === 'string') return Buffer.from(out, 'utf8');
  if (out instanceof Uint8Array) return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  throw new SessionEncodeError('the custom serializer must return a string or a Uint8Array');
}
