import { SessionEncodeError } from '../store/errors.js';

/** A serializer as the codec uses it: bytes in, bytes out. */
export interface Serializer {
  readonly id: number | string;
  serialize(session: unknown): Buffer;
  deserialize(bytes: Buffer): unknown;
}

/**
 * A user-supplied serializer. Give either serialize/deserialize (bytes) or stringify/parse (text,
 * so `{ id: 'json5', ...JSON5 }` works). `id` is written into every value: an integer 8..14, or a
 * name of 1..32 characters (costs its length + 1 bytes per value).
 */
export interface CustomSerializer {
  id: number | string;
  serialize?(session: unknown): string | Uint8Array;
  deserialize?(bytes: Buffer): unknown;
  stringify?(session: unknown): string;
  parse?(text: string): unknown;
}

export type SerializerOption = 'json' | CustomSerializer;

export const BUILTIN_SERIALIZER_IDS = { json: 0 } as const;

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
  const { id } = custom;
  if (typeof custom.serialize === 'function' && typeof custom.deserialize === 'function') {
    const serialize = custom.serialize.bind(custom);
    const deserialize = custom.deserialize.bind(custom);
    return {
      id,
      serialize: (session) => toBuffer(serialize(session)),
      deserialize: (bytes) => deserialize(bytes),
    };
  }
  const stringify = (custom.stringify as (s: unknown) => string).bind(custom);
  const parse = (custom.parse as (t: string) => unknown).bind(custom);
  return {
    id,
    serialize: (session) => toBuffer(stringify(session)),
    deserialize: (bytes) => parse(bytes.toString('utf8')),
  };
}

function toBuffer(out: string | Uint8Array): Buffer {
  if (typeof out === 'string') return Buffer.from(out, 'utf8');
  if (out instanceof Uint8Array) return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  throw new SessionEncodeError('the custom serializer must return a string or a Uint8Array');
}
