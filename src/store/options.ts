import { compactSerializer } from '../codec/compact.js';
import { compact2Serializer } from '../codec/compact2/index.js';
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
import { assertConnection, type RedisConnection } from '../redis/connections.js';
import type { Durability } from '../redis/durability.js';
import type { UserIdOf } from '../users/user-index.js';
import { ConfigError } from './errors.js';
import { isLogger, type Logger, silentLogger, toLogger } from './logger.js';
import type { SessionData } from './session-store.js';
import { MAX_TTL_MS, ttlMsFor } from './ttl.js';

export type StorageModeName = 'hash' | 'string';

/** connect-redis's `ttl` as a function: seconds this session lives, whatever its cookie says. */
export type TtlFunction = (session: SessionData) => number;

/**
 * A connect-redis serializer (`{ parse, stringify }`, e.g. `JSON` or superjson) given as it is,
 * without the `id` redisession writes into every value: it is stored under DEFAULT_SERIALIZER_ID.
 */
export interface IdlessSerializer {
  stringify(session: unknown): string | Promise<string>;
  parse(text: string): unknown;
}

/** The id written into values by a custom serializer given without one (see README, Custom codecs). */
export const DEFAULT_SERIALIZER_ID = 'custom';

/** Options of createSessionStore. Each maps to a django-redisession setting where it had one. */
export interface SessionStoreOptions {
  /**
   * A connection name registered with configureRedis, a redis:// / rediss:// URL, a unix socket
   * path, ioredis options (`{ sentinels, name }` for Sentinel), `{ cluster: [{ host, port }, ...],
   * options }` for Redis Cluster, or an ioredis client, Redis or Cluster (SERVER).
   * @default 'default'
   */
  redis?: RedisConnection;
  /**
   * connect-redis's name for `redis`: the same values, the same checks. Give one of the two.
   * @default 'default'
   */
  client?: RedisConnection;
  /** 'hash' stores sessions as fields of bucket hashes (USE_HASH = True), 'string' as one key each. @default 'hash' */
  mode?: StorageModeName;
  /** Every key this store writes, counts or clears starts with it. @default 'rs:' */
  prefix?: string;
  /**
   * Seconds a session lives when it has no `cookie.expires`; or, as in connect-redis, a function
   * `(session) => seconds` that decides for every session, over its cookie (<= 0 destroys it; a
   * return that is not a finite number fails the write and keeps the stored session).
   * @default 86400
   */
  ttl?: number | TtlFunction;
  /**
   * Sessions never expire in Redis (connect-redis's disableTTL): each is stored for 100 years (the
   * longest lifetime the store allows; in hash mode no sweep removes it) and `touch` does nothing.
   * A session whose cookie has already expired is still destroyed by `set`. @default false
   */
  disableTTL?: boolean;
  /** `touch` does nothing (connect-redis's disableTouch): a session lives as long as its last `set` said. @default false */
  disableTouch?: boolean;
  /** SCAN / HSCAN COUNT of the walks behind length, clear, ids, all (connect-redis's scanCount). @default 1000 */
  scanCount?: number;
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
   * Serializer for new writes: 'compact' (a binary format made for sessions: ids and tokens as
   * bytes, common key names as one byte, express-session's cookie folded; reads back exactly what
   * JSON would), 'json' (plain JSON text, readable by anything), or 'compact-v1' (the compact
   * format of earlier versions, for a rolling upgrade). Values written with any of them stay
   * readable whatever is configured later. @default 'compact'
   */
  serializer?: SerializerOption | IdlessSerializer;
  /** Custom serializers/compressors no longer used for writing, kept so old values stay readable. @default [] */
  legacyCodecs?: Array<CustomSerializer | CustomCompressor | IdlessSerializer>;
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
  disableTTL: false,
  disableTouch: false,
  scanCount: 1000,
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
  /** The default lifetime in ms (the `ttl` number; with a ttl function, DEFAULTS.ttl). */
  ttlMs: number;
  /**
   * The lifetime of this session in ms (<= 0: destroy it): `explicitMs` when given (a koa maxAge,
   * a WriteOptions.ttlMs), else the ttl function, else its cookie, else the default; with
   * disableTTL, any positive lifetime becomes MAX_TTL_MS.
   */
  ttlMsOf: (session: object, now: number, explicitMs?: number) => number;
  /** The `ttl` option as given (seconds, or the function), for the store's read-only field. */
  ttl: number | TtlFunction;
  disableTTL: boolean;
  disableTouch: boolean;
  scanCount: number;
  /** The `serializer` option as given, for the store's read-only field. */
  serializerOption: SerializerOption | IdlessSerializer;
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
  client: true,
  mode: true,
  prefix: true,
  ttl: true,
  disableTTL: true,
  disableTouch: true,
  scanCount: true,
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

/**
 * A custom serializer without an `id` (a connect-redis serializer) gets DEFAULT_SERIALIZER_ID; its
 * methods stay bound to it, so a class instance (superjson) keeps working.
 */
function withId(value: CustomSerializer | IdlessSerializer): CustomSerializer {
  const v = value as CustomSerializer;
  if (v.id !== undefined && v.id !== null) return v;
  const bound = <F>(f: F | undefined) => (typeof f === 'function' ? f.bind(v) : undefined);
  return {
    id: DEFAULT_SERIALIZER_ID,
    serialize: bound(v.serialize),
    deserialize: bound(v.deserialize),
    stringify: bound(v.stringify),
    parse: bound(v.parse),
  };
}

function resolveSerializer(value: unknown): Serializer {
  // connect-redis's default, passed explicitly: the built-in JSON writes the same text
  if (value === 'json' || value === JSON) return jsonSerializer;
  if (value === 'compact') return compact2Serializer;
  if (value === 'compact-v1') return compactSerializer;
  if (!isCustomSerializer(value)) {
    fail(
      'serializer',
      value,
      "'compact', 'json', 'compact-v1', a connect-redis serializer { stringify, parse }, or { id, serialize, deserialize }",
    );
  }
  const custom = withId(value);
  assertCodecId('serializer', custom.id);
  return fromCustomSerializer(custom);
}

function resolveCompressor(value: unknown): Compressor | null {
  if (value === 'none') return null;
  if (value === 'snappy' || value === 'gzip' || value === 'brotli') return BUILTIN_COMPRESSORS[value];
  if (!isCustomCompressor(value))
    fail('compression', value, "'snappy', 'gzip', 'brotli', 'none' or { id, compress, decompress }");
  assertCodecId('compression', value.id);
  return fromCustomCompressor(value);
}

/** `redis` or its connect-redis spelling `client`; both at once is a mistake, not a preference. */
function connectionOption(options: SessionStoreOptions): { name: 'redis' | 'client'; value: unknown } {
  if (options.redis !== undefined && options.client !== undefined) {
    throw new ConfigError('options "redis" and "client" are two names for the same connection: give one');
  }
  if (options.client !== undefined) return { name: 'client', value: options.client };
  return { name: 'redis', value: options.redis ?? DEFAULTS.redis };
}

/** ttlMsOf (see ResolvedOptions): the connect-redis TTL rules over this store's own. */
function lifetime(ttl: number | TtlFunction, defaultMs: number, disableTTL: boolean): ResolvedOptions['ttlMsOf'] {
  const base =
    typeof ttl === 'function'
      ? (session: object) => {
          const seconds: unknown = ttl(session as SessionData);
          if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
            fail('ttl', seconds, 'the ttl function to return a number of seconds (<= 0 destroys the session)');
          }
          return seconds * 1000;
        }
      : (session: object, now: number) => ttlMsFor(session, defaultMs, now);
  return (session, now, explicitMs) => {
    const ms = explicitMs ?? base(session, now);
    // connect-redis: with disableTTL a session still dies with an already-expired cookie
    return disableTTL && ms > 0 ? MAX_TTL_MS : ms;
  };
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

  const connection = connectionOption(options);
  assertConnection(`option "${connection.name}"`, connection.value, { names: true });
  assertOneOf('mode', o.mode, ['hash', 'string'] as const);
  if (typeof o.prefix !== 'string' || o.prefix.length === 0 || o.prefix.length > 128) {
    fail(
      'prefix',
      o.prefix,
      'a non-empty string of at most 128 characters (an empty prefix would let clear() reach foreign keys)',
    );
  }
  // at least 1 ms once rounded: a ttl of 0 ms would delete every session without cookie.expires
  if (
    typeof o.ttl !== 'function' &&
    (typeof o.ttl !== 'number' || !(Math.round(o.ttl * 1000) >= 1 && o.ttl * 1000 <= MAX_TTL_MS))
  ) {
    fail(
      'ttl',
      o.ttl,
      `a number of seconds from 0.001 to ${MAX_TTL_MS / 1000} (100 years), or a function (session) => seconds`,
    );
  }
  if (typeof o.disableTTL !== 'boolean') fail('disableTTL', o.disableTTL, 'true or false');
  if (typeof o.disableTouch !== 'boolean') fail('disableTouch', o.disableTouch, 'true or false');
  assertInteger('scanCount', o.scanCount, 1, 1_000_000);
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
      const custom = withId(codec);
      assertCodecId('legacyCodecs[]', custom.id);
      legacySerializers.push(fromCustomSerializer(custom));
    } else {
      fail('legacyCodecs[]', codec, 'a custom serializer or compressor');
    }
  }

  const ttlMs = typeof o.ttl === 'number' ? Math.round(o.ttl * 1000) : DEFAULTS.ttl * 1000;
  const serializer = resolveSerializer(o.serializer);
  // Two readers for one id would read each other's values: the first one wins silently.
  const ids = [serializer.id, ...legacySerializers.map((l) => l.id)];
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined) {
    throw new ConfigError(
      `serializer id ${JSON.stringify(twice)} is given twice (serializer and legacyCodecs, or two legacyCodecs): give the new serializer an id of its own${twice === DEFAULT_SERIALIZER_ID ? ` (a serializer without an id is written as '${DEFAULT_SERIALIZER_ID}')` : ''}`,
    );
  }
  return {
    redis: connection.value as RedisConnection,
    mode: o.mode,
    prefix: Buffer.from(o.prefix, 'utf8'),
    ttlMs,
    ttlMsOf: lifetime(o.ttl, ttlMs, o.disableTTL),
    ttl: o.ttl,
    disableTTL: o.disableTTL,
    disableTouch: o.disableTouch,
    scanCount: o.scanCount,
    serializerOption: o.serializer,
    buckets: o.buckets,
    keyGenerator: o.keyGenerator ?? null,
    idSecret,
    maxSize: o.maxSize,
    hashKeyGenerator: o.hashKeyGenerator ?? null,
    serializer,
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
