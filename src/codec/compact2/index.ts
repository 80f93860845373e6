import type { Serializer } from '../serializers.js';
import { Decoder } from './decode.js';
import { Encoder } from './encode.js';

/** Serializer id of format 2 (the 'compact' default since it exists; id 1 stays readable). */
export const COMPACT2_ID = 2;

let idle: Encoder | null = new Encoder();
const decoder = new Decoder();

/**
 * The 'compact' serializer, format 2 (see format.ts). One Encoder and its buffer are reused; a
 * toJSON that stores a session from inside an encode (re-entry) gets an Encoder of its own.
 */
export const compact2Serializer: Serializer = {
  id: COMPACT2_ID,
  serialize(session, expiresAt) {
    const enc = idle ?? new Encoder();
    idle = null;
    try {
      return enc.encode(session, expiresAt);
    } finally {
      idle = enc;
    }
  },
  deserialize(bytes, expiresAt) {
    return decoder.decode(bytes, expiresAt);
  },
};

/** deserialize() of the payload starting at byte `start` of `bytes` (the codec's format-2 read). */
export function deserializeCompact2At(bytes: Buffer, start: number, expiresAt: number | null): Record<string, unknown> {
  return decoder.decode(bytes, expiresAt, start);
}
