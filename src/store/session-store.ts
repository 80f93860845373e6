import { createCodec, type Decoded } from '../codec/codec.js';
import { isThenable } from '../codec/serializers.js';
import { defaultBucketOf } from '../keys/buckets.js';
import { defaultKeyGenerator, hashedKeyGenerator, isDefaultKey } from '../keys/key-scheme.js';
import { idForLog, sessionIdProblem } from '../keys/session-id.js';
import { userIndexKey } from '../keys/user-index-key.js';
import { legacyFallback, registerLegacy } from '../migrate/legacy.js';
import { hashMode } from '../modes/hash-mode.js';
import type {
  DestroyCondition,
  IndexEntry as IndexEntryOf,
  StorageMode,
  TouchOutcome,
  WriteOutcome,
} from '../modes/mode.js';
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
import { confirmWrites, markWrites, type WriteMark } from '../redis/durability.js';
import { resolveSweepOptions } from '../sweep/options.js';
import { runSweep, type SweepOptions, type SweepResult } from '../sweep/runner.js';
import { type Decoded as IndexDecoded, type SessionAccess, type UserSession, userIndex } from '../users/user-index.js';
import { ConfigError, InvalidSessionIdError, SessionEncodeError } from './errors.js';
import type { Logger } from './logger.js';
import { type ResolvedOptions, resolveOptions, type SessionStoreOptions, type StorageModeName } from './options.js';
import { sameData } from './same-data.js';
import { MAX_TTL_MS, ttlMsFor } from './ttl.js';

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
   * Hash mode: removes expired sessions now (what the cleanup worker runs, without BullMQ).
   * String mode has nothing to sweep (Redis expires the keys) and returns zeros.
   */
  sweep(options?: SweepOptions): Promise<SweepResult>;
  /** Disconnects the client if the store created it (from a URL or options); shared clients stay open. */
  close(): Promise<void>;
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

export function createSessionStore(options: SessionStoreOptions = {}): SessionStore {
  const opts = resolveOptions(options);
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
        stringMode(client, opts.prefix, opts.keyGenerator ? () => true : isDefaultKey, opts.sweepGraceMs)
      : hashMode(client, {
          prefix: opts.prefix,
          buckets: opts.buckets,
          bucketOf,
          inlineSweep: opts.inlineSweep,
          graceMs: opts.sweepGraceMs,
        });

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
    const live = ({ session, expiresAt }: Decoded) =>
      expiresAt !== null && expiresAt <= Date.now() ? null : (session as SessionData);
    const unreadable = (err: unknown): null | Promise<null> => {
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
    };
    try {
      const decoded = codec.decode(raw);
      // the built-in codecs answer synchronously: no extra await on the request path
      return isThenable(decoded) ? decoded.then(live, unreadable) : live(decoded);
    } catch (err) {
      return unreadable(err);
    }
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

  /**
   * With the durability option, what one operation wrote: `before(keys)` marks the connections a
   * write to these keys is about to go through, `confirm()` waits for replicas on all of them.
   */
  function receipt() {
    const marks: WriteMark[] = [];
    return {
      async before(keys: Buffer[]) {
        if (opts.durability) marks.push(...(await markWrites(client(), keys)));
      },
      async confirm() {
        if (opts.durability && marks.length > 0) await confirmWrites(marks, opts.durability);
      },
    };
  }
  type Receipt = ReturnType<typeof receipt>;

  const users = opts.userId
    ? userIndex(client, opts.prefix, opts.userId, {
        fenceMs: Math.max(TOMBSTONE_MIN_MS, opts.ttlMs),
        graceMs: opts.sweepGraceMs,
      })
    : null;
  const indexKeyOf = (owner: string | null) => (owner === null ? [] : [userIndexKey(opts.prefix, owner)]);
  /** The owner of a stored session, if it can be told (for the index entry destroy removes). */
  const ownerOfStored = async (raw: Buffer): Promise<string | null> => {
    const decoded = await decodeQuietly(raw);
    if (!users || typeof decoded !== 'object') return null;
    try {
      return users.ownerOf(decoded.session);
    } catch {
      return null;
    }
  };

  // biome-ignore lint/suspicious/noExplicitAny: the mode's location type, passed back to it
  const access: SessionAccess<any> = {
    locate: (key) => mode.locate(key),
    read: readLive,
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

  /**
   * Ends a session (destroy, an expired cookie) if the condition holds: a tombstone replaces it,
   * its legacy copy goes in the same step, and its owner's index entry after. True when ended.
   */
  async function end(sid: string, where: { key: Buffer; loc: unknown }, condition: DestroyCondition, r: Receipt) {
    await r.before([mode.keyOf(where.loc)]);
    const { done, value } = await mode.destroy(where.loc, {
      now: Date.now(),
      condition,
      ...(legacy ? { legacy: legacy.copyOf(sid, where.key) } : {}),
    });
    // the tombstone keeps the entry from being written again: removing it now is safe
    const owner = done && users && value ? await ownerOfStored(value) : null;
    if (owner !== null) {
      await r.before(indexKeyOf(owner));
      await users?.forget(owner, where.key);
    }
    return done;
  }

  function dropped(op: string, sid: string, outcome: WriteOutcome | TouchOutcome): void {
    if (outcome === 'dead' || outcome === 'revoked') {
      const reason = outcome === 'dead' ? 'the session was destroyed' : 'its owner was logged out everywhere';
      logger.debug({ op, id: idForLog(sid) }, `redisession: ${op} dropped: ${reason}`);
    }
  }

  async function write(sid: string, session: object, wo: WriteOptions | undefined, op: 'set' | 'touch') {
    const where = locate(sid, op);
    if ('problem' in where) throw new InvalidSessionIdError(`cannot ${op} session: ${where.problem}`);
    const now = Date.now();
    const ttlMs = Math.min(Math.ceil(wo?.ttlMs ?? ttlMsFor(session, opts.ttlMs, now)), MAX_TTL_MS);
    const r = receipt();
    if (op === 'touch') await touch(sid, where, session, ttlMs, now, r);
    else if (!(ttlMs > 0)) {
      // Already expired (or NaN from a broken maxAge): the session must not outlive its cookie.
      await end(sid, where, { is: 'any' }, r);
    } else await set(sid, where, session, ttlMs, now, r);
    await r.confirm();
  }

  async function set(
    sid: string,
    where: { key: Buffer; loc: unknown },
    session: object,
    ttlMs: number,
    now: number,
    r: Receipt,
  ) {
    const owner = users?.ownerOf(session) ?? null;
    const encoded = encode(session, mode.storesExpiry ? now + ttlMs : null);
    // the built-in codecs answer synchronously: no extra await on the request path
    const value = isThenable(encoded) ? await encoded : encoded;
    if (value.length > opts.maxSize) {
      throw new SessionEncodeError(
        `session is ${value.length} bytes as stored, over maxSize (${opts.maxSize}); not stored`,
      );
    }
    await r.before([mode.keyOf(where.loc), ...indexKeyOf(owner)]);
    const outcome =
      owner === null || !users
        ? await mode.write(where.loc, value, ttlMs, now)
        : await users.guard(
            owner,
            where.key,
            { expiresAt: now + ttlMs, ttlMs, now },
            (entry) => mode.write(where.loc, value, ttlMs, now, entry),
            'revoked' as const,
          );
    dropped('set', sid, outcome);
    if (outcome !== 'stored') return;
    // a cluster writes the entry and the session in two steps: a destroyUser that revoked the
    // entry in between may have looked at the session before this write landed
    if (owner !== null && users && !(await users.confirm(owner, where.key, { expiresAt: now + ttlMs, ttlMs, now }))) {
      await mode.destroy(where.loc, { now: Date.now(), condition: { is: 'same', value } });
      dropped('set', sid, 'revoked');
    }
  }

  /** See SessionStore.touch: a later end at once; an earlier one only from a copy holding the stored data. */
  async function touch(
    sid: string,
    where: { key: Buffer; loc: unknown },
    session: object,
    ttlMs: number,
    now: number,
    r: Receipt,
  ) {
    const owner = users?.ownerOf(session) ?? null;
    await r.before([mode.keyOf(where.loc), ...indexKeyOf(owner)]);
    const expiresAt = now + ttlMs;
    const times = { expiresAt, ttlMs, now };
    const guarded = <T>(run: (entry?: IndexEntryOf) => Promise<T>, refused: T) =>
      owner === null || !users ? run() : users.guard(owner, where.key, times, run, refused);
    let outcome: TouchOutcome;
    if (ttlMs > 0) {
      const refresh = () => guarded((entry) => mode.refresh(where.loc, expiresAt, ttlMs, now, entry), 'revoked');
      outcome = await refresh();
      // A session only the legacy layout holds is moved over first, then touched.
      if (outcome === 'missing' && legacy && (await legacy.claim(sid, where.key, where.loc)) !== null) {
        outcome = await refresh();
      }
    } else {
      // an expired cookie ends the session, on the same terms as a shorter one
      const raw = (await readLive(where.loc)) ?? (legacy ? await legacy.claim(sid, where.key, where.loc) : null);
      outcome = raw === null ? 'missing' : { shorter: raw };
    }
    dropped('touch', sid, outcome);
    if (typeof outcome !== 'object') return;
    // Earlier than stored: a stale copy (its request loaded the session before another one saved
    // it) leaves the stored life alone; the same data means the cookie itself was shortened.
    const stored = await decodeQuietly(outcome.shorter);
    if (typeof stored !== 'object' || !sameData(stored.session, session)) return;
    if (!(ttlMs > 0)) {
      await end(sid, where, { is: 'same', value: outcome.shorter }, r);
      return;
    }
    const shorter = outcome.shorter;
    await guarded((entry) => mode.shorten(where.loc, shorter, expiresAt, ttlMs, now, entry), false);
  }

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

    async get(sid) {
      const where = locate(sid, 'get');
      if ('problem' in where) return null;
      let raw = await mode.read(where.loc);
      if (raw === null) {
        if (!legacy) return null;
        const r = receipt(); // the move writes the session and deletes the legacy copy
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
    touch: (sid, session, wo) => write(sid, session, wo, 'touch'),

    async destroy(sid) {
      const where = locate(sid, 'destroy');
      if ('problem' in where) return;
      const r = receipt();
      await end(sid, where, { is: 'any' }, r);
      await r.confirm();
    },

    async destroyUser(userId) {
      const index = needUsers('destroyUser');
      const r = receipt();
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

    async close() {
      unwatch();
      if (source.owned) await quietQuit(source.owned);
    },
  };
  return registerLegacy(store, legacy);
}
