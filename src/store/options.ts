import { compactSerializer } from '../codec/compact.js';
import {
  BUILTIN_COMPRESSORS,
  type CompressionOption,
  type Compressor,
  type CustomCompressor,
  fromCustomCompressor,
  isCustomCompressor,
} from '../codec/compressors.js';
import {
  type CustomSerializer,
  fromCustomSerializer,
  isCustomSerializer,
  jsonSerializer,
  type Serializer,
  type SerializerOption,
} from '../codec/serializers.js';
import { MAX_BUCKETS } from '../keys/buckets.js';
import { type LegacyOptions, type LegacySource, resolveLegacy } from '../migrate/legacy.js';
import {
  assertClusterNodes,
  isConnectionString,
  isKnownConnection,
  knownConnectionNames,
  type RedisConnection,
} from '../redis/connections.js';
import type { Durability } from '../redis/durability.js';
import type { UserIdOf } from '../users/user-index.js';
import { ConfigError } from './errors.js';
import { isLogger, type Logger, silentLogger, toLogger } from './logger.js';
import { MAX_TTL_MS } from './ttl.js';

export type StorageModeName = 'hash' | 'string';

/** Options of createSessionStore. Each maps to a django-redisession setting where it had one. */
export interface SessionStoreOptions {
  /**
   * A connection name registered with configureRedis, a redis:// / rediss:// URL, a unix socket
   * path, ioredis options (`{ sentinels, name }` for Sentinel), `{ cluster: [{ host, port }, ...],
   * options }` for Redis Cluster, or an ioredis client, Redis or Cluster (SERVER).
   * @default 'default'
   */
  redis?: RedisConnection;
  /** 'hash' stores sessions as fields of bucket hashes (USE_HASH = True), 'string' as one key each. @default 'hash' */
  mode?: StorageModeName;
  /** Every key this store writes, counts or clears starts with it. @default 'rs:' */
  prefix?: string;
  /** Seconds a session lives when it has no `cookie.expires`. @default 86400 */
  ttl?: number;
  /** Number of bucket hashes in hash mode (1..16777216). @default 65536 */
  buckets?: number;
  /** Session id -> binary key; must be injective (KEY_GENERATOR). Throw or return '' to refuse an id. */
  keyGenerator?: (sid: string) => Buffer | Uint8Array | string;
  /**
   * Store a keyed hash (HMAC-SHA256) of each session id instead of the id, so Redis never holds a
   * usable session id (at least 16 bytes; keep it secret and stable: changing it logs everyone
   * out). Not together with keyGenerator. @default none
   */
  idSecret?: string | Buffer;
  /**
   * Binary key -> bucket (HASH_KEY_GENERATOR): an index in [0, buckets), or 1..64 bytes naming
   * the bucket (its key is then prefix + 0x01 + those bytes). Byte 0 of the key is the default
   * keyGenerator's tag; the id-derived bytes follow.
   */
  hashKeyGenerator?: (key: Buffer) => number | Buffer | Uint8Array | string;
  /** Compressor for new writes (COMPRESS_LIB). @default 'snappy' */
  compression?: CompressionOption;
  /** Payloads shorter than this are never compressed (COMPRESS_MIN_LENGTH). @default 400 */
  compressMinLength?: number;
  /**
   * Serializer for new writes: 'compact' (MessagePack with hex strings as bytes and
   * express-session's cookie folded; reads back exactly what JSON would), or 'json' (plain JSON
   * text, readable by anything). Values written with either stay readable whatever is configured
   * later. @default 'compact'
   */
  serializer?: SerializerOption;
  /** Custom serializers/compressors no longer used for writing, kept so old values stay readable. @default [] */
  legacyCodecs?: Array<CustomSerializer | CustomCompressor>;
  /**
   * Largest session the store accepts, in bytes as stored (after serialising and compressing):
   * a bigger one fails `set` with SessionEncodeError and the stored session stays as it was.
   * @default 1048576 (1 MiB)
   */
  maxSize?: number;
  /**
   * Hash mode: share of writes (0..1) that also remove expired sessions from the bucket they
   * write to, so storage stays bounded even without the cleanup worker. 0 turns it off.
   * @default 0.1
   */
  inlineSweep?: number;
  /**
   * What `get` does with a stored value it cannot decode (random bytes, a truncated or unknown
   * format, broken compression or JSON): it always answers null and logs a warning; 'ignore'
   * leaves the value in Redis (to inspect, or for a reader with the right codec), 'delete'
   * removes it, only if it still holds the same bytes, so a good session written meanwhile stays.
   * @default 'ignore'
   */
  onCorrupt?: 'ignore' | 'delete';
  /** Anything with pino's debug/warn/error. @default silent */
  logger?: Logger;
  /** Log ids the key scheme refuses (LOG_KEY_ERROR), with only a short prefix of the id. @default false */
  logKeyErrors?: boolean;
  /**
   * Where sessions lived before (connect-redis, or this library's other mode or prefix): a miss
   * looks there and moves the session over with its remaining TTL, so switching logs nobody out.
   * Needs a single Redis node. @default none
   */
  legacy?: LegacyOptions;
  /**
   * The owner of a session (e.g. `(s) => s.passport?.user`), or undefined when nobody is logged
   * in. Turns on the per-user index behind destroyUser and sessionsOf. @default none
   */
  userId?: UserIdOf;
  /**
   * Seconds a session is kept past its expiry by the sweeps this store runs (the in-line sweep,
   * store.sweep(), the user index's clean-up): an allowance for web servers whose clocks run
   * behind. Give the worker the same (CLEANUP_GRACE). @default 60
   */
  sweepGrace?: number;
  /**
   * Acknowledge a write (set, touch, destroy, destroyUser, a legacy move) only once `replicas`
   * replicas have it (Redis WAIT), so a failover to one of them loses no acknowledged session; a
   * write not confirmed within `timeoutMs` fails with DurabilityError. @default none
   */
  durability?: Durability;
}

export const DEFAULTS = {
  redis: 'default',
  mode: 'hash',
  prefix: 'rs:',
  ttl: 86400,
  buckets: 65536,
  compression: 'snappy',
  compressMinLength: 400,
  serializer: 'compact',
  inlineSweep: 0.1,
  maxSize: 1024 * 1024,
  onCorrupt: 'ignore',
  logKeyErrors: false,
  sweepGrace: 60,
} as const satisfies SessionStoreOptions;

export interface ResolvedOptions {
  redis: RedisConnection;
  mode: StorageModeName;
  prefix: Buffer;
  ttlMs: number;
  buckets: number;
  keyGenerator: ((sid: string) => Buffer | Uint8Array | string) | null;
  idSecret: Buffer | null;
  /** Largest stored value in bytes (after serialising and compressing). */
  maxSize: number;
  hashKeyGenerator: ((key: Buffer) => number | Buffer | Uint8Array | string) | null;
  serializer: Serializer;
  compressor: Compressor | null;
  compressMinLength: number;
  legacySerializers: Serializer[];
  legacyCompressors: Compressor[];
  inlineSweep: number;
  onCorrupt: 'ignore' | 'delete';
  logger: Logger;
  logKeyErrors: boolean;
  legacy: LegacySource | null;
  userId: UserIdOf | null;
  sweepGraceMs: number;
  durability: Durability | null;
}

// A record, not a list, so the compiler complains when an option is added to the interface only.
const OPTION_NAMES: Record<keyof SessionStoreOptions, true> = {
  redis: true,
  mode: true,
  prefix: true,
  ttl: true,
  buckets: true,
  keyGenerator: true,
  idSecret: true,
  hashKeyGenerator: true,
  compression: true,
  compressMinLength: true,
  serializer: true,
  legacyCodecs: true,
  inlineSweep: true,
  maxSize: true,
  onCorrupt: true,
  logger: true,
  logKeyErrors: true,
  legacy: true,
  userId: true,
  sweepGrace: true,
  durability: true,
};
const KNOWN_OPTIONS = Object.keys(OPTION_NAMES);

function fail(option: string, value: unknown, accepted: string): never {
  let shown: string;
  if (typeof value === 'function') shown = 'a function';
  else if (typeof value === 'string') shown = JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  else shown = String(value);
  throw new ConfigError(`option "${option}": got ${shown}; expected ${accepted}`);
}

function assertOneOf<T extends string>(option: string, value: unknown, accepted: readonly T[]): asserts value is T {
  if (!accepted.includes(value as T)) fail(option, value, `one of ${accepted.map((a) => `'${a}'`).join(', ')}`);
}

function assertInteger(option: string, value: unknown, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(option, value, `an integer from ${min} to ${max}`);
  }
}

function assertFunction(option: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') fail(option, value, 'a function');
}

/** Custom codec ids are written into every value: 8..14 fit in the header, others cost their length. */
function assertCodecId(option: string, id: unknown): void {
  if (typeof id === 'number') {
    assertInteger(`${option}.id`, id, 0, 2 ** 31);
    return;
  }
  if (typeof id !== 'string' || !/^[\x21-\x7e]{1,32}$/.test(id)) {
    fail(`${option}.id`, id, 'a whole number (8 to 14 cost no space), or a name of 1 to 32 printable ASCII characters');
  }
}

function resolveSerializer(value: unknown): Serializer {
  if (value === 'json') return jsonSerializer;
  if (value === 'compact') return compactSerializer;
  if (!isCustomSerializer(value)) {
    fail('serializer', value, "'json', 'compact', or { id, serialize, deserialize } or { id, stringify, parse }");
  }
  assertCodecId('serializer', value.id);
  return fromCustomSerializer(value);
}

function resolveCompressor(value: unknown): Compressor | null {
  if (value === 'none') return null;
  if (value === 'snappy' || value === 'gzip' || value === 'brotli') return BUILTIN_COMPRESSORS[value];
  if (!isCustomCompressor(value))
    fail('compression', value, "'snappy', 'gzip', 'brotli', 'none' or { id, compress, decompress }");
  assertCodecId('compression', value.id);
  return fromCustomCompressor(value);
}

function assertRedis(value: unknown): asserts value is RedisConnection {
  if (typeof value === 'string') {
    if (isKnownConnection(value) || isConnectionString(value)) return;
    fail('redis', value, `a connection name (${knownConnectionNames().join(', ')}), a redis:// URL or a socket path`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(
      'redis',
      value,
      'a connection name, URL, socket path, ioredis options, { cluster: [...] } or an ioredis client',
    );
  }
  assertClusterNodes('option "redis"', value);
}

/** Merges DEFAULTS with the user's options and validates everything once, at construction. */
export function resolveOptions(options: SessionStoreOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) fail('options', options, 'an object');
  const unknown = Object.keys(options).filter((k) => !KNOWN_OPTIONS.includes(k));
  if (unknown.length > 0) {
    throw new ConfigError(
      `unknown option ${unknown.map((k) => `"${k}"`).join(', ')}; known options: ${KNOWN_OPTIONS.join(', ')}`,
    );
  }
  // `??` and not `||`: an explicit 0 must reach validation, not silently become a default.
  const o = { ...DEFAULTS, ...definedOnly(options) };

  assertRedis(o.redis);
  assertOneOf('mode', o.mode, ['hash', 'string'] as const);
  if (typeof o.prefix !== 'string' || o.prefix.length === 0 || o.prefix.length > 128) {
    fail(
      'prefix',
      o.prefix,
      'a non-empty string of at most 128 characters (an empty prefix would let clear() reach foreign keys)',
    );
  }
  // at least 1 ms once rounded: a ttl of 0 ms would delete every session without cookie.expires
  if (typeof o.ttl !== 'number' || !(Math.round(o.ttl * 1000) >= 1 && o.ttl * 1000 <= MAX_TTL_MS)) {
    fail('ttl', o.ttl, `a number of seconds from 0.001 to ${MAX_TTL_MS / 1000} (100 years)`);
  }
  if (typeof o.sweepGrace !== 'number' || !(o.sweepGrace >= 0 && o.sweepGrace <= 86_400)) {
    fail('sweepGrace', o.sweepGrace, 'a number of seconds from 0 to 86400');
  }
  const durability = resolveDurability(o.durability);
  assertInteger('buckets', o.buckets, 1, MAX_BUCKETS);
  assertFunction('keyGenerator', o.keyGenerator);
  assertFunction('hashKeyGenerator', o.hashKeyGenerator);
  assertFunction('userId', o.userId);
  assertInteger('compressMinLength', o.compressMinLength, 0, Number.MAX_SAFE_INTEGER);
  if (o.logger !== undefined && !isLogger(o.logger))
    fail('logger', o.logger, 'an object with debug, warn and error methods (pino, console)');
  if (typeof o.inlineSweep !== 'number' || !(o.inlineSweep >= 0 && o.inlineSweep <= 1)) {
    fail('inlineSweep', o.inlineSweep, 'a number from 0 (off) to 1 (every write)');
  }
  assertInteger('maxSize', o.maxSize, 64, 512 * 1024 * 1024);
  assertOneOf('onCorrupt', o.onCorrupt, ['ignore', 'delete'] as const);
  let idSecret: Buffer | null = null;
  if (o.idSecret !== undefined) {
    if (o.keyGenerator)
      throw new ConfigError('options "idSecret" and "keyGenerator" exclude each other: idSecret is a key scheme');
    idSecret =
      typeof o.idSecret === 'string'
        ? Buffer.from(o.idSecret, 'utf8')
        : Buffer.isBuffer(o.idSecret)
          ? o.idSecret
          : null;
    if (!idSecret || idSecret.length < 16) fail('idSecret', '(hidden)', 'a string or Buffer of at least 16 bytes');
  }
  if (typeof o.logKeyErrors !== 'boolean') fail('logKeyErrors', o.logKeyErrors, 'true or false');
  const legacy = o.legacyCodecs ?? [];
  if (!Array.isArray(legacy)) fail('legacyCodecs', legacy, 'an array of custom serializers and compressors');

  const legacySerializers: Serializer[] = [];
  const legacyCompressors: Compressor[] = [];
  for (const codec of legacy) {
    if (isCustomCompressor(codec)) {
      assertCodecId('legacyCodecs[]', codec.id);
      legacyCompressors.push(fromCustomCompressor(codec));
    } else if (isCustomSerializer(codec)) {
      assertCodecId('legacyCodecs[]', codec.id);
      legacySerializers.push(fromCustomSerializer(codec));
    } else {
      fail('legacyCodecs[]', codec, 'a custom serializer or compressor');
    }
  }

  return {
    redis: o.redis,
    mode: o.mode,
    prefix: Buffer.from(o.prefix, 'utf8'),
    ttlMs: Math.round(o.ttl * 1000),
    buckets: o.buckets,
    keyGenerator: o.keyGenerator ?? null,
    idSecret,
    maxSize: o.maxSize,
    hashKeyGenerator: o.hashKeyGenerator ?? null,
    serializer: resolveSerializer(o.serializer),
    compressor: resolveCompressor(o.compression),
    compressMinLength: o.compressMinLength,
    legacySerializers,
    legacyCompressors,
    inlineSweep: o.inlineSweep,
    onCorrupt: o.onCorrupt,
    logger: o.logger ? toLogger(o.logger) : silentLogger,
    logKeyErrors: o.logKeyErrors,
    legacy: resolveLegacy(o.legacy, { mode: o.mode, prefix: Buffer.from(o.prefix, 'utf8') }),
    userId: o.userId ?? null,
    sweepGraceMs: Math.round(o.sweepGrace * 1000),
    durability,
  };
}

function resolveDurability(value: unknown): Durability | null {
  if (value === undefined) return null;
  const accepted = '{ replicas: 1 to 16, timeoutMs: 1 to 60000 }';
  if (typeof value !== 'object' || value === null) fail('durability', value, accepted);
  const { replicas, timeoutMs, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) {
    throw new ConfigError(`option "durability": unknown field "${extra[0]}"; expected ${accepted}`);
  }
  assertInteger('durability.replicas', replicas, 1, 16);
  // WAIT with 0 blocks forever: a stuck replica would hang every request
  assertInteger('durability.timeoutMs', timeoutMs, 1, 60_000);
  return { replicas, timeoutMs };
}

/** Drops undefined values: an unset option or flag never overrides a default or the environment. */
export function definedOnly<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
