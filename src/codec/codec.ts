import { CorruptValueError, SessionEncodeError } from '../store/errors.js';
import { compactSerializer } from './compact.js';
import { compact2Serializer, deserializeCompact2At } from './compact2/index.js';
import { BUILTIN_COMPRESSOR_IDS, BUILTIN_COMPRESSORS, type Compressor } from './compressors.js';
import {
  decodeEnvelope,
  EXPIRY_BYTES,
  encodeEnvelope,
  FORMAT2_EXPIRY_OFFSET,
  FORMAT2_NO_EXPIRY,
  FORMAT2_WITH_EXPIRY,
} from './envelope.js';
import { isThenable, jsonSerializer, type Serializer } from './serializers.js';

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
  /**
   * Throws (or rejects with) SessionEncodeError when the session cannot be turned into bytes.
   * Synchronous when the codecs are (the built-in ones are): no promise on the request path.
   */
  encode(session: unknown, expiresAt: number | null): Buffer | Promise<Buffer>;
  /** Throws (or rejects with) CorruptValueError for anything it cannot read. Synchronous like encode. */
  decode(value: Buffer): Decoded | Promise<Decoded>;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Applies `step` to a value that may be a promise (a custom codec's), synchronously when it is
 * not; a failure of the value (throw or rejection) becomes `wrap(err)`.
 */
function then<T, R>(
  produce: () => T | Promise<T>,
  step: (value: T) => R | Promise<R>,
  wrap: (err: unknown) => Error,
): R | Promise<R> {
  let value: T | Promise<T>;
  try {
    value = produce();
  } catch (err) {
    throw wrap(err);
  }
  if (isThenable(value)) {
    return Promise.resolve(value).then(step, (err) => {
      throw wrap(err);
    });
  }
  return step(value as T);
}

/**
 * Why a payload did not parse, without the parser's message: those quote the input (V8's
 * `"…" is not valid JSON`, msgpackr's "end of buffer not reached {…}"), and reasons end up in logs.
 */
export function parseFailure(err: unknown): string {
  if (!(err instanceof Error)) return 'parser error';
  return `${err.name}${/ at position \d+/.exec(err.message)?.[0] ?? ''} (message withheld: it may quote session data)`;
}

export function createCodec(setup: CodecSetup): Codec {
  const serializers = new Map<number | string, Serializer>();
  for (const s of [
    jsonSerializer,
    compactSerializer,
    compact2Serializer,
    ...(setup.readable?.serializers ?? []),
    setup.serializer,
  ]) {
    serializers.set(s.id, s);
  }
  const compressors = new Map<number | string, Compressor>();
  for (const c of [...Object.values(BUILTIN_COMPRESSORS), ...(setup.readable?.compressors ?? [])]) {
    compressors.set(c.id, c);
  }
  if (setup.compressor) compressors.set(setup.compressor.id, setup.compressor);
  const { serializer, compressor, compressMinLength } = setup;
  const encodeError = (what: string) => (err: unknown) =>
    new SessionEncodeError(`session cannot be ${what}: ${message(err)}`, { cause: err });
  const corrupt = (what: string) => (err: unknown) =>
    err instanceof CorruptValueError ? err : new CorruptValueError(`${what}: ${message(err)}`, { cause: err });
  const unparsable = (err: unknown) =>
    err instanceof CorruptValueError ? err : new CorruptValueError(`payload cannot be parsed: ${parseFailure(err)}`);

  function toSession(value: unknown, expiresAt: number | null): Decoded {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new CorruptValueError('payload is not a session object');
    }
    return { session: value, expiresAt };
  }

  /** A format-2 value's session: its payload from byte `start` on. */
  function compact2(value: Buffer, start: number, expiresAt: number | null): Decoded {
    let session: unknown;
    try {
      session = deserializeCompact2At(value, start, expiresAt);
    } catch (err) {
      throw unparsable(err);
    }
    return toSession(session, expiresAt);
  }

  return {
    encode(session, expiresAt) {
      return then(
        () => serializer.serialize(session, expiresAt),
        (payload: Buffer) => {
          const envelope = (bytes: Buffer, compressorId: number | string) =>
            encodeEnvelope({ serializer: serializer.id, compressor: compressorId, expiresAt }, bytes);
          if (!compressor || payload.length < compressMinLength) return envelope(payload, BUILTIN_COMPRESSOR_IDS.none);
          return then(
            () => compressor.compress(payload),
            // Keep the compressed form only when it pays for itself.
            (packed: Buffer) =>
              packed.length < payload.length
                ? envelope(packed, compressor.id)
                : envelope(payload, BUILTIN_COMPRESSOR_IDS.none),
            encodeError('compressed'),
          );
        },
        encodeError('serialised'),
      );
    },

    decode(value) {
      // format 2 ('compact', uncompressed: nearly every value) straight to its decoder, the request
      // path's read: no envelope object, no closures, no subarray, the same answers and errors as below
      const format = value[0];
      if (format === FORMAT2_WITH_EXPIRY && value.length >= FORMAT2_EXPIRY_OFFSET + EXPIRY_BYTES) {
        const expiresAt = value.readUIntBE(FORMAT2_EXPIRY_OFFSET, EXPIRY_BYTES);
        return compact2(value, FORMAT2_EXPIRY_OFFSET + EXPIRY_BYTES, expiresAt);
      }
      if (format === FORMAT2_NO_EXPIRY) return compact2(value, 1, null);
      const env = decodeEnvelope(value);
      const s = serializers.get(env.serializer);
      const parse = (payload: Buffer) => {
        if (!s) throw new CorruptValueError(`value written with unknown serializer ${JSON.stringify(env.serializer)}`);
        return then(
          () => s.deserialize(payload, env.expiresAt),
          (session) => toSession(session, env.expiresAt),
          unparsable,
        );
      };
      if (env.compressor === BUILTIN_COMPRESSOR_IDS.none) return parse(env.payload);
      const c = compressors.get(env.compressor);
      if (!c) throw new CorruptValueError(`value written with unknown compressor ${JSON.stringify(env.compressor)}`);
      return then(() => c.decompress(env.payload), parse, corrupt('compressed data is broken'));
    },
  };
}
