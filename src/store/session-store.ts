import { createCodec, type Decoded } from '../codec/codec.js';
import { isThenable, type SerializerOption } from '../codec/serializers.js';
import { defaultBucketOf } from '../keys/buckets.js';
import { defaultKeyGenerator, hashedKeyGenerator, isDefaultKey } from '../keys/key-scheme.js';
import { isManifestSuffix } from '../keys/manifest-key.js';
import { idForLog, sessionIdProblem } from '../keys/session-id.js';
import { legacyFallback, registerLegacy } from '../migrate/legacy.js';
import { hashMode } from '../modes/hash-mode.js';
import type { StorageMode } from '../modes/mode.js';
import { stringMode } from '../modes/string-mode.js';
import {
  assertUsableClient,
  createRedisClient,
  getRedis,
  hasHashTag,
  isKnownConnection,
  isRedisClient,
  quietQuit,
  type RedisClient,
  watchConnection,
} from '../redis/connections.js';
import { DEFAULT_GRACE_MS } from '../sweep/bucket-scan.js';
import { resolveSweepOptions } from '../sweep/options.js';
import { runSweep, type SweepOptions, type SweepResult } from '../sweep/runner.js';
import { type SessionAccess, type UserSession, userIndex } from '../users/user-index.js';
import { ConfigError, InvalidSessionIdError, SessionEncodeError } from './errors.js';
import { guardStore, layoutGuard, storeLayout, storeOrigin } from './layout-guard.js';
import { type ListedSession, sessionListing } from './listing.js';
import type { Logger } from './logger.js';
import type { StoreManifest } from './manifest.js';
import {
  type IdlessSerializer,
  type ResolvedOptions,
  resolveOptions,
  type SessionStoreOptions,
  type StorageModeName,
  type TtlFunction,
} from './options.js';
import { MAX_TTL_MS } from './ttl.js';

/** A session as stored: any JSON-serialisable object (express-session, koa-session, fastify). */
// biome-ignore lint/suspicious/noExplicitAny: session contents are the application's; `unknown` would force casts on every read
export type SessionData = Record<string, any>;

export interface WriteOptions {
  /** Lifetime in ms, overriding the one derived from `cookie.expires` (koa-session passes maxAge). */
  ttlMs?: number;
}

export interface SessionStore {
  readonly mode: StorageModeName;
  readonly prefix: string;
  /** The ioredis client this store talks through (for a named connection: its current client). */
  readonly redis: RedisClient;
  /** The `ttl` option: default seconds, or the function deciding each session's lifetime. */
  readonly ttl: number | TtlFunction;
  readonly disableTTL: boolean;
  readonly disableTouch: boolean;
  /** SCAN / HSCAN COUNT of length, clear, ids, all and entries. */
  readonly scanCount: number;
  /** The `serializer` option as given ('compact', 'json', or your object). */
  readonly serializer: SerializerOption | IdlessSerializer;
  /**
   * Where the store reports what it does not throw (the `logger` option; silent without one).
   * Optional so a wrapper passed as `{ store }` to an adapter need not have one.
   */
  readonly logger?: Logger;
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
  /**
   * Log out everywhere: deletes every session of this user (needs the userId option). Every
   * session saved before the call is gone, and a request of that user still in flight cannot
   * save it back; a login that starts during the call may survive. Returns sessions deleted.
   */
  destroyUser(userId: string | number): Promise<number>;
  /** The user's live sessions, oldest first (needs the userId option). */
  sessionsOf(userId: string | number): Promise<UserSession[]>;
  /** Live sessions under this store's prefix (walks the keyspace: meant for admin use, not per request). */
  length(): Promise<number>;
  /** Deletes every session under this store's prefix, and nothing else. */
  clear(): Promise<void>;
  /**
   * The ids of the live sessions under this store's prefix (walks it with SCAN: admin use). Needs
   * the default key scheme: with idSecret or a custom keyGenerator there are no ids to recover.
   */
  ids(): Promise<string[]>;
  /** The live sessions under the prefix, each with its `id` (connect-redis 9's shape; as ids()). */
  all(): Promise<ListedSession[]>;
  /** The live sessions, [id, session], fetched a page at a time: all() in bounded memory. */
  entries(): AsyncGenerator<[string, SessionData]>;
  /**
   * Hash mode: removes expired sessions now (what the cleanup worker runs, without BullMQ).
   * String mode has nothing to sweep (Redis expires the keys) and returns zeros.
   */
  sweep(options?: SweepOptions): Promise<SweepResult>;
  /** Disconnects the client if the store created it (from a URL or options); shared clients stay open. */
  close(): Promise<void>;
  /**
   * Checks the options against the layout recorded in Redis for the prefix (recording it when there
   * is none) and returns the manifest; rejects with LayoutMismatchError when they contradict it.
   * Every other method does this on its first call: call it at start to refuse to start instead.
   * Optional so a wrapper passed as `{ store }` to an adapter need not have one.
   */
  checkLayout?(): Promise<StoreManifest>;
}

const MAX_KEY_BYTES = 1024;

/**
 * Where the store gets its client. A named connection is looked up on every call, so a store made
 * before configureRedis (re)defines the name follows it; a client created here is the store's own.
 */
function connectionSource(spec: ResolvedOptions['redis']): { current: () => RedisClient; owned: RedisClient | null } {
  if (typeof spec === 'string' && isKnownConnection(spec)) return { current: () => getRedis(spec), owned: null };
  // checked before connecting: a refused client would keep the process alive
  if (typeof spec === 'object') assertUsableClient(spec);
  const client = isRedisClient(spec) ? spec : createRedisClient(spec);
  return { current: () => client, owned: isRedisClient(spec) ? null : client };
}

function toKey(out: Buffer | Uint8Array | string): Buffer {
  if (typeof out !== 'string' && !(out instanceof Uint8Array)) {
    throw new TypeError('keyGenerator must return a Buffer, Uint8Array or string');
  }
  const key = typeof out === 'string' ? Buffer.from(out, 'utf8') : Buffer.isBuffer(out) ? out : Buffer.from(out);
  if (key.length === 0 || key.length > MAX_KEY_BYTES) throw new RangeError(`key must be 1..${MAX_KEY_BYTES} bytes`);
  return key;
}

const noop = async (): Promise<void> => {};

/** The session, or null once its expiry (in the value: hash mode) has passed. */
function live({ session, expiresAt }: Decoded): SessionData | null {
  return expiresAt !== null && expiresAt <= Date.now() ? null : (session as SessionData);
}

export function createSessionStore(options: SessionStoreOptions = {}): SessionStore {
  const opts = resolveOptions(options);
  const origin = storeOrigin(options);
  const { logger } = opts;
  const source = connectionSource(opts.redis);
  let watched: RedisClient | null = null;
  let unwatch = (): void => {};
  /** The client for this call; starts watching (for logs) a client the first time it is seen. */
  const client = (): RedisClient => {
    const c = source.current();
    if (c !== watched) {
      assertUsableClient(c);
      if (c.isCluster && hasHashTag(opts.prefix.toString('utf8'))) {
        logger.warn(
          { prefix: opts.prefix.toString('utf8') },
          'redisession: the prefix holds a {hash tag}: on Redis Cluster every key of this store lands on one node',
        );
      }
      unwatch();
      unwatch = watchConnection(c, logger);
      watched = c;
    }
    return c;
  };
  const codec = createCodec({
    serializer: opts.serializer,
    compressor: opts.compressor,
    compressMinLength: opts.compressMinLength,
    readable: { serializers: opts.legacySerializers, compressors: opts.legacyCompressors },
  });
  const keyOf = opts.keyGenerator ?? (opts.idSecret ? hashedKeyGenerator(opts.idSecret) : defaultKeyGenerator);
  const bucketOf = opts.hashKeyGenerator ?? ((key: Buffer) => defaultBucketOf(key, opts.buckets));
  // biome-ignore lint/suspicious/noExplicitAny: each mode has its own location type; the store only passes it back
  const mode: StorageMode<any> =
    opts.mode === 'string'
      ? // A custom keyGenerator makes keys of any shape: then only the prefix tells ours apart.
        stringMode(
          client,
          opts.prefix,
          opts.keyGenerator ? (rest) => !isManifestSuffix(rest) : isDefaultKey,
          opts.scanCount,
        )
      : hashMode(client, {
          prefix: opts.prefix,
          buckets: opts.buckets,
          bucketOf,
          inlineSweep: opts.inlineSweep,
          scanCount: opts.scanCount,
        });
  const touches = !opts.disableTouch && !opts.disableTTL;
  const guard = layoutGuard({ client, logger, createdBy: origin.createdBy, ...storeLayout(opts) });

  /** Where the session lives (its key, and its place in the mode's layout), or why its id is refused. */
  function locate(sid: unknown, op: string): { key: Buffer; loc: unknown } | { problem: string } {
    let problem = sessionIdProblem(sid);
    if (problem === null) {
      try {
        const key = toKey(keyOf(sid as string));
        return { key, loc: mode.locate(key) };
      } catch (err) {
        problem = `key generator refused it: ${(err as Error).message}`;
      }
    }
    if (opts.logKeyErrors) logger.warn({ op, id: idForLog(sid), reason: problem }, 'redisession: session id refused');
    return { problem };
  }

  function encode(session: object, expiresAt: number | null): Buffer | Promise<Buffer> {
    if (typeof session !== 'object' || session === null || Array.isArray(session)) {
      throw new SessionEncodeError('session must be an object');
    }
    return codec.encode(session, expiresAt);
  }

  /**
   * The session in a stored value, or null when it has expired or cannot be decoded (logged; with
   * onCorrupt 'delete' and the value's location, removed if it is still the same bytes).
   */
  function decodeLive(raw: Buffer, sid?: string, loc?: unknown): SessionData | null | Promise<SessionData | null> {
    try {
      const decoded = codec.decode(raw);
      // the built-in codecs answer synchronously: no extra await on the request path
      return isThenable(decoded)
        ? decoded.then(live, (err) => unreadable(err, raw, sid, loc))
        : live(decoded as Decoded);
    } catch (err) {
      return unreadable(err, raw, sid, loc);
    }
  }

  /** A value that cannot be decoded: logged; with onCorrupt 'delete' and its location, removed. */
  function unreadable(err: unknown, raw: Buffer, sid?: string, loc?: unknown): null | Promise<null> {
    const report = (deleted: boolean) => {
      logger.warn(
        {
          ...(sid !== undefined ? { id: idForLog(sid) } : {}),
          reason: (err as Error).message,
          onCorrupt: opts.onCorrupt,
          deleted,
        },
        'redisession: stored session cannot be decoded; treated as missing',
      );
      return null;
    };
    if (opts.onCorrupt !== 'delete' || loc === undefined) return report(false);
    // compare-and-delete: a good session written since this read is never removed
    return mode
      .removeIfSame(loc, raw)
      .catch(() => false)
      .then(report);
  }

  const users = opts.userId ? userIndex(client, opts.prefix, opts.userId) : null;
  // biome-ignore lint/suspicious/noExplicitAny: the mode's location type, passed back to it
  const access: SessionAccess<any> = {
    locate: (key) => mode.locate(key),
    read: (loc) => mode.read(loc),
    remove: (loc) => mode.remove(loc).then(noop),
    decode: async (raw) => decodeLive(raw),
  };
  const legacy = opts.legacy
    ? legacyFallback(opts.legacy, {
        client,
        codec,
        storesExpiry: mode.storesExpiry,
        defaultTtlMs: opts.ttlMs,
        keyOf: (sid) => (sessionIdProblem(sid) === null ? toKey(keyOf(sid)) : null),
        locate: (key) => mode.locate(key),
        where: (loc) => (Buffer.isBuffer(loc) ? { key: loc, field: '' } : { key: loc.bucket, field: loc.field }),
        read: (loc) => mode.read(loc),
        ...(users
          ? {
              beforeWrite: async (session: SessionData, key: Buffer, expiresAt: number, ttlMs: number) => {
                const owner = users.ownerOf(session);
                if (owner === null) return true;
                // refused when the owner was logged out everywhere: the legacy copy must not revive it
                return !(await users.write(owner, key, { expiresAt, ttlMs, now: Date.now() }, () => {}, noop)).revoked;
              },
            }
          : {}),
        logger,
      })
    : null;

  async function write(sid: string, session: object, wo: WriteOptions | undefined, op: 'set' | 'touch') {
    const where = locate(sid, op);
    if ('problem' in where) throw new InvalidSessionIdError(`cannot ${op} session: ${where.problem}`);
    const now = Date.now();
    const ttlMs = Math.min(Math.ceil(opts.ttlMsOf(session, now, wo?.ttlMs)), MAX_TTL_MS);
    if (!(ttlMs > 0)) {
      // Already expired (or NaN from a broken maxAge): the session must not outlive its cookie.
      await mode.remove(where.loc);
      return;
    }
    const owner = users?.ownerOf(session) ?? null;
    if (op === 'touch') {
      // not async: a promise returned from an async function costs two more turns of the microtask queue
      const refresh = (): Promise<boolean> =>
        owner === null
          ? mode.refresh(where.loc, now + ttlMs, ttlMs, now)
          : indexed(owner, where, now, ttlMs, (tx) => mode.queueRefresh(tx, where.loc, now + ttlMs, ttlMs, now)).then(
              (r) => r.reply === 1,
            );
      // A session only the legacy layout holds is moved over first, then touched.
      if (!(await refresh()) && legacy && (await legacy.claim(sid, where.key, where.loc)) !== null) await refresh();
      return;
    }
    const encoded = encode(session, mode.storesExpiry ? now + ttlMs : null);
    // the built-in codecs answer synchronously: no extra await on the request path
    const value = isThenable(encoded) ? await encoded : encoded;
    if (value.length > opts.maxSize) {
      throw new SessionEncodeError(
        `session is ${value.length} bytes as stored, over maxSize (${opts.maxSize}); not stored`,
      );
    }
    if (owner === null) await mode.write(where.loc, value, ttlMs);
    else await indexed(owner, where, now, ttlMs, (tx) => mode.queueWrite(tx, where.loc, value, ttlMs));
  }

  /** A write together with its user index entry (see UserIndex.write). */
  function indexed(
    owner: string,
    where: { key: Buffer; loc: unknown },
    now: number,
    ttlMs: number,
    queue: Parameters<NonNullable<typeof users>['write']>[3],
  ) {
    // biome-ignore lint/style/noNonNullAssertion: only called when there is an owner, so an index
    return users!.write(owner, where.key, { expiresAt: now + ttlMs, ttlMs, now }, queue, () =>
      mode.remove(where.loc).then(noop),
    );
  }

  const listing = sessionListing({
    entries: () => mode.entries(),
    unlistable: opts.idSecret
      ? 'with idSecret the store keeps a keyed hash of each id, never the id itself (that is its point)'
      : opts.keyGenerator
        ? 'the keys of a custom keyGenerator cannot be turned back into ids'
        : null,
    decode: (raw, sid) => decodeLive(raw, sid),
  });

  function needUsers(op: string) {
    if (!users) throw new ConfigError(`${op} needs the "userId" option (how to tell a session's owner)`);
    return users;
  }

  const store: SessionStore = {
    mode: opts.mode,
    prefix: opts.prefix.toString('utf8'),
    get redis() {
      return client();
    },
    logger,
    ttl: opts.ttl,
    disableTTL: opts.disableTTL,
    disableTouch: opts.disableTouch,
    scanCount: opts.scanCount,
    serializer: opts.serializerOption,

    async get(sid) {
      const where = locate(sid, 'get');
      if ('problem' in where) return null;
      let raw = await mode.read(where.loc);
      if (raw === null) {
        if (!legacy) return null;
        raw = await legacy.claim(sid, where.key, where.loc);
        if (raw === null) return null;
      }
      return decodeLive(raw, sid, where.loc);
    },

    set: (sid, session, wo) => write(sid, session, wo, 'set'),
    // connect-redis: disableTouch, and disableTTL (nothing to extend), make touch a no-op
    touch: touches ? (sid, session, wo) => write(sid, session, wo, 'touch') : noop,

    async destroy(sid) {
      const where = locate(sid, 'destroy');
      if ('problem' in where) return;
      if (users) {
        // the owner's index entry goes too (a session saved with no owner has none)
        const raw = await mode.read(where.loc);
        const session = raw === null ? null : await decodeLive(raw, sid);
        const owner = session === null ? null : users.ownerOf(session);
        await mode.remove(where.loc);
        if (owner !== null) await users.forget(owner, where.key);
      } else {
        await mode.remove(where.loc);
      }
      await legacy?.remove(sid, where.key);
    },

    destroyUser: async (userId) => needUsers('destroyUser').destroyUser(userId, access),
    sessionsOf: async (userId) => needUsers('sessionsOf').sessionsOf(userId, access),

    length: () => mode.count(Date.now()),

    async sweep(sweepOptions) {
      // checked and defaulted once, before anything is deleted (`dry`, `grace` in s are spellings too)
      const resolved = resolveSweepOptions(sweepOptions);
      // user indexes shed entries whose sessions expired (both modes)
      const pruned = users && !resolved.dryRun ? await users.prune(resolved.graceMs ?? DEFAULT_GRACE_MS) : null;
      const userIndex = pruned ? { userIndex: pruned } : {};
      if (opts.mode === 'string') {
        const none = { position: null, bucketsDone: 0, scanned: 0, deleted: 0 };
        return { buckets: 0, scanned: 0, deleted: 0, durationMs: 0, completed: true, checkpoint: none, ...userIndex };
      }
      // A hashKeyGenerator may name buckets the numbered plans cannot list: find them with SCAN.
      const strategy = resolved.strategy ?? (opts.hashKeyGenerator ? 'existing' : 'full');
      const result = await runSweep(
        { client: client(), prefix: opts.prefix, buckets: opts.buckets },
        { ...resolved, strategy },
      );
      return { ...result, ...userIndex };
    },

    async clear() {
      await mode.clear();
      await users?.clear();
    },

    ids: () => listing.ids(),
    all: () => listing.all(),
    entries: () => listing.entries(),

    async close() {
      unwatch();
      if (source.owned) await quietQuit(source.owned);
    },

    checkLayout: () => guard.check(),
  };
  return registerLegacy(origin.checkLayout ? guardStore(store, guard) : store, legacy);
}
