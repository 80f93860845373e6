import { createCodec, type Decoded } from '../codec/codec.js';
import { isThenable, type SerializerOption } from '../codec/serializers.js';
import { defaultBucketOf } from '../keys/buckets.js';
import { base64urlKeyAt, defaultKeyGenerator, hashedKeyGenerator, isDefaultKey } from '../keys/key-scheme.js';
import { isManifestSuffix } from '../keys/manifest-key.js';
import { idForLog, sessionIdProblem } from '../keys/session-id.js';
import { userIndexKey } from '../keys/user-index-key.js';
import { legacyFallback, registerLegacy } from '../migrate/legacy.js';
import { hashMode } from '../modes/hash-mode.js';
import type { StorageMode } from '../modes/mode.js';
import { stringMode } from '../modes/string-mode.js';
import { isTombstone, TOMBSTONE_MIN_MS } from '../modes/tombstone.js';
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
import { resolveSweepOptions } from '../sweep/options.js';
import { runSweep, type SweepOptions, type SweepResult } from '../sweep/runner.js';
import { type Decoded as IndexDecoded, type SessionAccess, type UserSession, userIndex } from '../users/user-index.js';
import { ConfigError, InvalidSessionIdError, SessionEncodeError } from './errors.js';
import { CALLED_AT, guardStore, layoutGuard, storeLayout, storeOrigin } from './layout-guard.js';
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
import { sessionWrites, type Where } from './writes.js';

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
  /**
   * Stores the session; a TTL <= 0 (cookie already expired) destroys it instead. A save of a
   * destroyed id, or of a user logged out everywhere since the save started, is dropped.
   */
  set(sid: string, session: object, options?: WriteOptions): Promise<void>;
  /**
   * Sets the session's end to what its cookie now says (as set does), if it still exists. Only the
   * end changes: the stored data stays as the last set wrote it, so a touch carrying an older copy
   * never undoes a concurrent write, and a destroyed session is never brought back. A later end
   * always applies; an earlier one (or an expired cookie, which ends the session) only when the
   * touch carries the data as stored, so a stale touch never cuts short what a concurrent save gave.
   */
  touch(sid: string, session: object, options?: WriteOptions): Promise<void>;
  /**
   * Ends the session, and its legacy copy. The id stays dead as long as the session could have
   * lived (at least a minute): a save still in flight, from a request that loaded the session
   * before, is dropped rather than bringing it back.
   */
  destroy(sid: string): Promise<void>;
  /**
   * Log out everywhere: ends every session of this user (needs the userId option). Every session
   * saved before the call is gone, a save of one of them still in flight is dropped, and so is a
   * login that started before the call; a login that starts during the call may survive, and is
   * then listed by sessionsOf (call again to end it). Returns sessions ended.
   */
  destroyUser(userId: string | number): Promise<number>;
  /**
   * The user's live sessions, oldest first (needs the userId option). Read only; lists too the
   * sessions this instance cannot decode that the index holds for the user.
   */
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

/**
 * Where a session lives when its key was written behind room for the mode's bytes (string mode:
 * the Redis key is prefix + key, in one Buffer). The key's own Buffer (a subarray) is made only
 * when asked for: the plain get, set and touch never read it, only the index, legacy and logs do.
 */
class KeyBehind implements Where {
  readonly loc: unknown;
  private tail: Buffer | null = null;

  constructor(
    private readonly buffer: Buffer,
    private readonly room: number,
    mode: StorageMode<unknown>,
  ) {
    this.loc = mode.locateAt(buffer);
  }

  get key(): Buffer {
    this.tail ??= this.buffer.subarray(this.room);
    return this.tail;
  }
}

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
  // A client of the store's own connects now: watched from the start, its connection errors are
  // the store's log lines, not ioredis's "Unhandled error event" on every retry before the first call.
  if (source.owned) client();
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
          opts.sweepGraceMs,
          opts.scanCount,
        )
      : hashMode(client, {
          prefix: opts.prefix,
          buckets: opts.buckets,
          bucketOf,
          inlineSweep: opts.inlineSweep,
          graceMs: opts.sweepGraceMs,
          scanCount: opts.scanCount,
        });
  const touches = !opts.disableTouch && !opts.disableTTL;
  const guard = layoutGuard({ client, logger, createdBy: origin.createdBy, ...storeLayout(opts) });

  // express-session's ids under the default key scheme: key and Redis key built in one pass
  const fastKeys = keyOf === defaultKeyGenerator;

  /** Where the session lives (its key, and its place in the mode's layout), or why its id is refused. */
  function locate(sid: unknown, op: string): Where | string {
    let problem: string | null = null;
    try {
      const buffer = fastKeys ? base64urlKeyAt(sid, mode.keyRoom) : null;
      if (buffer !== null) {
        return mode.keyRoom === 0
          ? { key: buffer, loc: mode.locateAt(buffer) }
          : new KeyBehind(buffer, mode.keyRoom, mode);
      }
      problem = sessionIdProblem(sid);
      if (problem === null) {
        const key = toKey(keyOf(sid as string));
        return { key, loc: mode.locate(key) };
      }
    } catch (err) {
      problem = `key generator refused it: ${(err as Error).message}`;
    }
    if (opts.logKeyErrors) logger.warn({ op, id: idForLog(sid), reason: problem }, 'redisession: session id refused');
    return problem;
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

  /** What is stored at a location, a tombstone (a destroyed id) reading as nothing. */
  const readLive = async (loc: Parameters<typeof mode.read>[0]): Promise<Buffer | null> => {
    const raw = await mode.read(loc);
    return raw !== null && isTombstone(raw) ? null : raw;
  };

  /** Stored bytes decoded without logging or deleting anything (for the index and touch). */
  async function decodeQuietly(raw: Buffer): Promise<IndexDecoded> {
    try {
      const { session, expiresAt } = await codec.decode(raw);
      return expiresAt !== null && expiresAt <= Date.now() ? 'expired' : { session: session as SessionData, expiresAt };
    } catch {
      return 'unreadable';
    }
  }

  const users = opts.userId
    ? userIndex(client, opts.prefix, opts.userId, {
        fenceMs: Math.max(TOMBSTONE_MIN_MS, opts.ttlMs),
        graceMs: opts.sweepGraceMs,
      })
    : null;
  // biome-ignore lint/suspicious/noExplicitAny: the mode's location type, passed back to it
  const access: SessionAccess<any> = {
    locate: (key) => mode.locate(key),
    read: (loc) => mode.read(loc),
    destroy: (loc, condition) => mode.destroy(loc, { now: Date.now(), condition }),
    decode: decodeQuietly,
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
        read: readLive,
        ...(users
          ? {
              beforeWrite: async (session: SessionData, key: Buffer, expiresAt: number, ttlMs: number) => {
                const owner = users.ownerOf(session);
                // refused when the owner was logged out everywhere: the legacy copy, of unknown age
                // (writtenAt 0), must not revive it
                return owner === null || users.add(owner, key, { expiresAt, ttlMs, now: Date.now(), writtenAt: 0 });
              },
            }
          : {}),
        logger,
      })
    : null;

  const writes = sessionWrites({ mode, users, legacy, opts, client, logger, encode, readLive, decodeQuietly });
  const indexKeyOf = (owner: string) => [userIndexKey(opts.prefix, owner)];

  /** set and touch; not async, so the plain case takes no promise beyond the command's (see writes.ts). */
  function write(sid: string, session: object, wo: WriteOptions | undefined, op: 'set' | 'touch'): Promise<void> {
    try {
      const where = locate(sid, op);
      if (typeof where === 'string') throw new InvalidSessionIdError(`cannot ${op} session: ${where}`);
      // (called before the layout check answered: the time of the call, see CALLED_AT)
      const now = (wo as { [CALLED_AT]?: number } | undefined)?.[CALLED_AT] ?? Date.now();
      const ttlMs = Math.min(Math.ceil(opts.ttlMsOf(session, now, wo?.ttlMs)), MAX_TTL_MS);
      return writes.write(sid, where, session, ttlMs, now, op);
    } catch (err) {
      return Promise.reject(err);
    }
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
      if (typeof where === 'string') return null;
      let raw = await mode.read(where.loc);
      if (raw === null) {
        if (!legacy) return null;
        const r = writes.receipt(); // the move writes the session and deletes the legacy copy
        await r.before([mode.keyOf(where.loc)]);
        raw = await legacy.claim(sid, where.key, where.loc);
        if (raw === null) return null;
        await r.confirm();
      }
      if (isTombstone(raw)) {
        // a destroyed id: a legacy copy an old web server wrote back since is dropped, never read
        await legacy?.drop(sid, where.key);
        return null;
      }
      return decodeLive(raw, sid, where.loc);
    },

    set: (sid, session, wo) => write(sid, session, wo, 'set'),
    // connect-redis: disableTouch, and disableTTL (nothing to extend), make touch a no-op
    touch: touches ? (sid, session, wo) => write(sid, session, wo, 'touch') : noop,

    async destroy(sid) {
      const where = locate(sid, 'destroy');
      if (typeof where === 'string') return;
      const r = writes.receipt();
      await writes.end(sid, where, { is: 'any' }, r);
      await r.confirm();
    },

    async destroyUser(userId) {
      const index = needUsers('destroyUser');
      const r = writes.receipt();
      // (an id destroyUser refuses throws before anything is written)
      if (typeof userId === 'string' || typeof userId === 'number') await r.before(indexKeyOf(String(userId)));
      const ended = await index.destroyUser(userId, {
        ...access,
        destroy: async (loc, condition) => {
          await r.before([mode.keyOf(loc)]);
          return access.destroy(loc, condition);
        },
      });
      await r.confirm();
      return ended;
    },
    sessionsOf: async (userId) => needUsers('sessionsOf').sessionsOf(userId, access),

    length: () => mode.count(Date.now()),

    async sweep(sweepOptions) {
      // checked and defaulted once, before anything is deleted (`dry`, `grace` in s are spellings too)
      const given = sweepOptions ?? {};
      const resolved = resolveSweepOptions(
        given.graceMs === undefined && given.grace === undefined ? { ...given, graceMs: opts.sweepGraceMs } : given,
      );
      // user indexes shed entries whose sessions expired (both modes)
      const pruned = users && !resolved.dryRun ? await users.prune(resolved.graceMs ?? opts.sweepGraceMs) : null;
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
