import { createCodec } from '../codec/codec.js';
import { defaultBucketOf } from '../keys/buckets.js';
import { defaultKeyGenerator, isDefaultKey } from '../keys/key-scheme.js';
import { idForLog, sessionIdProblem } from '../keys/session-id.js';
import { hashMode } from '../modes/hash-mode.js';
import type { StorageMode } from '../modes/mode.js';
import { stringMode } from '../modes/string-mode.js';
import {
  createRedisClient,
  getRedis,
  isKnownConnection,
  isRedisClient,
  quietQuit,
  type RedisClient,
} from '../redis/connections.js';
import { runSweep, type SweepOptions, type SweepResult } from '../sweep/runner.js';
import { InvalidSessionIdError, SessionEncodeError } from './errors.js';
import { type ResolvedOptions, resolveOptions, type SessionStoreOptions, type StorageModeName } from './options.js';
import { ttlMsFor } from './ttl.js';

/** A session as stored: any JSON-serialisable object (express-session, koa-session, fastify). */
export type SessionData = Record<string, unknown>;

export interface WriteOptions {
  /** Lifetime in ms, overriding the one derived from `cookie.expires` (koa-session passes maxAge). */
  ttlMs?: number;
}

export interface SessionStore {
  readonly mode: StorageModeName;
  readonly prefix: string;
  /** The ioredis client this store talks through. */
  readonly redis: RedisClient;
  /** The session, or null when it is missing, expired, undecodable, or its id is refused. */
  get(sid: string): Promise<SessionData | null>;
  /** Stores the session; a TTL <= 0 (cookie already expired) destroys it instead. */
  set(sid: string, session: object, options?: WriteOptions): Promise<void>;
  /**
   * Resets the session's lifetime (from its cookie, as set does) if it still exists. Only the
   * expiry changes: the stored data stays as the last set wrote it, so a touch carrying an older
   * copy never undoes a concurrent write, and a destroyed session is never brought back.
   */
  touch(sid: string, session: object, options?: WriteOptions): Promise<void>;
  destroy(sid: string): Promise<void>;
  /** Live sessions under this store's prefix (walks the keyspace: meant for admin use, not per request). */
  length(): Promise<number>;
  /** Deletes every session under this store's prefix, and nothing else. */
  clear(): Promise<void>;
  /**
   * Hash mode: removes expired sessions now (what the cleanup worker runs, without BullMQ).
   * String mode has nothing to sweep (Redis expires the keys) and returns zeros.
   */
  sweep(options?: SweepOptions): Promise<SweepResult>;
  /** Disconnects the client if the store created it (from a URL or options); shared clients stay open. */
  close(): Promise<void>;
}

const MAX_KEY_BYTES = 1024;

function connect(spec: ResolvedOptions['redis']): { client: RedisClient; owned: boolean } {
  if (typeof spec === 'string' && isKnownConnection(spec)) return { client: getRedis(spec), owned: false };
  if (isRedisClient(spec)) return { client: spec, owned: false };
  return { client: createRedisClient(spec), owned: true };
}

function toKey(out: Buffer | Uint8Array | string): Buffer {
  const key = typeof out === 'string' ? Buffer.from(out, 'utf8') : Buffer.isBuffer(out) ? out : Buffer.from(out);
  if (!(key instanceof Buffer)) throw new TypeError('keyGenerator must return a Buffer, Uint8Array or string');
  if (key.length === 0 || key.length > MAX_KEY_BYTES) throw new RangeError(`key must be 1..${MAX_KEY_BYTES} bytes`);
  return key;
}

export function createSessionStore(options: SessionStoreOptions = {}): SessionStore {
  const opts = resolveOptions(options);
  const { logger } = opts;
  const { client, owned } = connect(opts.redis);
  const codec = createCodec({
    serializer: opts.serializer,
    compressor: opts.compressor,
    compressMinLength: opts.compressMinLength,
    readable: { serializers: opts.legacySerializers, compressors: opts.legacyCompressors },
  });
  const keyOf = opts.keyGenerator ?? defaultKeyGenerator;
  const bucketOf = opts.hashKeyGenerator ?? ((key: Buffer) => defaultBucketOf(key, opts.buckets));
  // biome-ignore lint/suspicious/noExplicitAny: each mode has its own location type; the store only passes it back
  const mode: StorageMode<any> =
    opts.mode === 'string'
      ? // A custom keyGenerator makes keys of any shape: then only the prefix tells ours apart.
        stringMode(client, opts.prefix, opts.keyGenerator ? () => true : isDefaultKey)
      : hashMode(client, { prefix: opts.prefix, buckets: opts.buckets, bucketOf, inlineSweep: opts.inlineSweep });

  // Say once when Redis goes away and once when it is back, not on every reconnect attempt.
  let down = false;
  const onError = (err: Error & { code?: string }): void => {
    if (down) return;
    down = true;
    logger.warn({ err: { message: err.message, code: err.code } }, 'redisession: Redis connection error');
  };
  const onReady = (): void => {
    if (!down) return;
    down = false;
    logger.warn({}, 'redisession: Redis connection is back');
  };
  client.on('error', onError);
  client.on('ready', onReady);

  /** Where the session lives, or why its id is refused. */
  function locate(sid: unknown, op: string): { loc: unknown } | { problem: string } {
    let problem = sessionIdProblem(sid);
    if (problem === null) {
      try {
        return { loc: mode.locate(toKey(keyOf(sid as string))) };
      } catch (err) {
        problem = `key generator refused it: ${(err as Error).message}`;
      }
    }
    if (opts.logKeyErrors) logger.warn({ op, id: idForLog(sid), reason: problem }, 'redisession: session id refused');
    return { problem };
  }

  function encode(session: object, expiresAt: number | null): Buffer {
    if (typeof session !== 'object' || session === null || Array.isArray(session)) {
      throw new SessionEncodeError('session must be an object');
    }
    return codec.encode(session, expiresAt);
  }

  async function write(sid: string, session: object, wo: WriteOptions | undefined, op: 'set' | 'touch') {
    const where = locate(sid, op);
    if ('problem' in where) throw new InvalidSessionIdError(`cannot ${op} session: ${where.problem}`);
    const now = Date.now();
    const ttlMs = Math.ceil(wo?.ttlMs ?? ttlMsFor(session, opts.ttlMs, now));
    if (!(ttlMs > 0)) {
      // Already expired (or NaN from a broken maxAge): the session must not outlive its cookie.
      await mode.remove(where.loc);
      return;
    }
    if (op === 'touch') {
      await mode.refresh(where.loc, now + ttlMs, ttlMs, now);
      return;
    }
    await mode.write(where.loc, encode(session, mode.storesExpiry ? now + ttlMs : null), ttlMs);
  }

  return {
    mode: opts.mode,
    prefix: opts.prefix.toString('utf8'),
    redis: client,

    async get(sid) {
      const where = locate(sid, 'get');
      if ('problem' in where) return null;
      const raw = await mode.read(where.loc);
      if (raw === null) return null;
      try {
        const { session, expiresAt } = codec.decode(raw);
        if (expiresAt !== null && expiresAt <= Date.now()) return null;
        return session as SessionData;
      } catch (err) {
        logger.warn(
          { id: idForLog(sid), reason: (err as Error).message },
          'redisession: stored session cannot be decoded; treated as missing',
        );
        return null;
      }
    },

    set: (sid, session, wo) => write(sid, session, wo, 'set'),
    touch: (sid, session, wo) => write(sid, session, wo, 'touch'),

    async destroy(sid) {
      const where = locate(sid, 'destroy');
      if ('problem' in where) return;
      await mode.remove(where.loc);
    },

    length: () => mode.count(Date.now()),

    async sweep(sweepOptions) {
      if (opts.mode === 'string') {
        const none = { position: null, bucketsDone: 0, scanned: 0, deleted: 0 };
        return { buckets: 0, scanned: 0, deleted: 0, durationMs: 0, completed: true, checkpoint: none };
      }
      return runSweep({ client, prefix: opts.prefix, buckets: opts.buckets }, sweepOptions);
    },

    async clear() {
      await mode.clear();
    },

    async close() {
      client.off('error', onError);
      client.off('ready', onReady);
      if (owned) await quietQuit(client);
    },
  };
}
