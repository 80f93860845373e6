import { CorruptValueError, SessionEncodeError } from '../store/errors.js';
import { BUILTIN_COMPRESSOR_IDS, BUILTIN_COMPRESSORS, type Compressor } from './compressors.js';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';
import { jsonSerializer, type Serializer } from './serializers.js';

export interface CodecSetup {
  /** Used for new writes. */
  serializer: Serializer;
  /** Used for new writes; null = never compress. */
  compressor: Compressor | null;
  compressMinLength: number;
  /** Extra codecs that only need to be readable (values written before a configuration change). */
  readable?: { serializers?: Serializer[]; compressors?: Compressor[] };
}

export interface Decoded {
  session: unknown;
  expiresAt: number | null;
}

export interface Codec {
  encode(session: unknown, expiresAt: number | null): Buffer;
  /** Throws CorruptValueError for anything it cannot read. */
  decode(value: Buffer): Decoded;
}

export function createCodec(setup: CodecSetup): Codec {
  const serializers = new Map<number | string, Serializer>();
  for (const s of [jsonSerializer, ...(setup.readable?.serializers ?? []), setup.serializer]) {
    serializers.set(s.id, s);
  }
  const compressors = new Map<number | string, Compressor>();
  for (const c of [...Object.values(BUILTIN_COMPRESSORS), ...(setup.readable?.compressors ?? [])]) {
    compressors.set(c.id, c);
  }
  if (setup.compressor) compressors.set(setup.compressor.id, setup.compressor);
  const { serializer, compressor, compressMinLength } = setup;

  return {
    encode(session, expiresAt) {
      let payload: Buffer;
      try {
        payload = serializer.serialize(session);
      } catch (err) {
        throw new SessionEncodeError(`session cannot be serialised: ${(err as Error).message}`, { cause: err });
      }
      let compressorId: number | string = BUILTIN_COMPRESSOR_IDS.none;
      if (compressor && payload.length >= compressMinLength) {
        const packed = compressor.compress(payload);
        // Keep the compressed form only when it pays for itself.
        if (packed.length < payload.length) {
          payload = packed;
          compressorId = compressor.id;
        }
      }
      return encodeEnvelope({ serializer: serializer.id, compressor: compressorId, expiresAt }, payload);
    },

    decode(value) {
      const env = decodeEnvelope(value);
      let payload = env.payload;
      if (env.compressor !== BUILTIN_COMPRESSOR_IDS.none) {
        const c = compressors.get(env.compressor);
        if (!c) throw new CorruptValueError(`value written with unknown compressor ${JSON.stringify(env.compressor)}`);
        try {
          payload = c.decompress(payload);
        } catch (err) {
          throw new CorruptValueError(`compressed data is broken: ${(err as Error).message}`, { cause: err });
        }
      }
      const s = serializers.get(env.serializer);
      if (!s) throw new CorruptValueError(`value written with unknown serializer ${JSON.stringify(env.serializer)}`);
      let session: unknown;
      try {
        session = s.deserialize(payload);
      } catch (err) {
        throw new CorruptValueError(`payload cannot be parsed: ${(err as Error).message}`, { cause: err });
      }
      if (typeof session !== 'object' || session === null || Array.isArray(session)) {
        throw new CorruptValueError('payload is not a session object');
      }
      return { session, expiresAt: env.expiresAt };
    },
  };
}
