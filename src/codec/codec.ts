import { CorruptValueError, SessionEncodeError } from '../store/errors.js';
import { compactSerializer } from './compact.js';
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
  /** Throws SessionEncodeError when the session cannot be turned into bytes. */
  encode(session: unknown, expiresAt: number | null): Promise<Buffer>;
  /** Throws CorruptValueError for anything it cannot read. */
  decode(value: Buffer): Promise<Decoded>;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Why a payload did not parse, without the parser's message: those quote the input (V8's
 * `"…" is not valid JSON`, msgpackr's "end of buffer not reached {…}"), and reasons end up in logs.
 */
function parseFailure(err: unknown): string {
  if (!(err instanceof Error)) return 'parser error';
  return `${err.name}${/ at position \d+/.exec(err.message)?.[0] ?? ''} (message withheld: it may quote session data)`;
}

export function createCodec(setup: CodecSetup): Codec {
  const serializers = new Map<number | string, Serializer>();
  for (const s of [jsonSerializer, compactSerializer, ...(setup.readable?.serializers ?? []), setup.serializer]) {
    serializers.set(s.id, s);
  }
  const compressors = new Map<number | string, Compressor>();
  for (const c of [...Object.values(BUILTIN_COMPRESSORS), ...(setup.readable?.compressors ?? [])]) {
    compressors.set(c.id, c);
  }
  if (setup.compressor) compressors.set(setup.compressor.id, setup.compressor);
  const { serializer, compressor, compressMinLength } = setup;

  return {
    async encode(session, expiresAt) {
      let payload: Buffer;
      try {
        payload = await serializer.serialize(session, expiresAt);
      } catch (err) {
        throw new SessionEncodeError(`session cannot be serialised: ${message(err)}`, { cause: err });
      }
      let compressorId: number | string = BUILTIN_COMPRESSOR_IDS.none;
      if (compressor && payload.length >= compressMinLength) {
        let packed: Buffer;
        try {
          packed = await compressor.compress(payload);
        } catch (err) {
          throw new SessionEncodeError(`session cannot be compressed: ${message(err)}`, { cause: err });
        }
        // Keep the compressed form only when it pays for itself.
        if (packed.length < payload.length) {
          payload = packed;
          compressorId = compressor.id;
        }
      }
      return encodeEnvelope({ serializer: serializer.id, compressor: compressorId, expiresAt }, payload);
    },

    async decode(value) {
      const env = decodeEnvelope(value);
      let payload = env.payload;
      if (env.compressor !== BUILTIN_COMPRESSOR_IDS.none) {
        const c = compressors.get(env.compressor);
        if (!c) throw new CorruptValueError(`value written with unknown compressor ${JSON.stringify(env.compressor)}`);
        try {
          payload = await c.decompress(payload);
        } catch (err) {
          throw new CorruptValueError(`compressed data is broken: ${message(err)}`, { cause: err });
        }
      }
      const s = serializers.get(env.serializer);
      if (!s) throw new CorruptValueError(`value written with unknown serializer ${JSON.stringify(env.serializer)}`);
      let session: unknown;
      try {
        session = await s.deserialize(payload, env.expiresAt);
      } catch (err) {
        throw new CorruptValueError(`payload cannot be parsed: ${parseFailure(err)}`);
      }
      if (typeof session !== 'object' || session === null || Array.isArray(session)) {
        throw new CorruptValueError('payload is not a session object');
      }
      return { session, expiresAt: env.expiresAt };
    },
  };
}
