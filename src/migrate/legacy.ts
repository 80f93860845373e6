import { type Codec, parseFailure } from '../codec/codec.js';
import { bucketKey, bucketWidth, defaultBucketOf } from '../keys/buckets.js';
import type { RedisClient } from '../redis/connections.js';
import { withScripts } from '../redis/scripts.js';
import { ConfigError, CorruptValueError, RedisessionError } from '../store/errors.js';
import type { Logger } from '../store/logger.js';
import { ttlMsFor } from '../store/ttl.js';

/*
 * Read-through from a legacy layout, so switching a web tier to this store logs nobody out: on a
 * miss, the store looks where the old store kept the session, moves it into its own layout with
 * its remaining TTL (legacy_move.lua, atomic), and answers with it. Nothing here runs on a hit.
 */

export type LegacyLayout = 'connect-redis' | 'string' | 'hash';
export const LEGACY_LAYOUTS: readonly LegacyLayout[] = ['connect-redis', 'string', 'hash'];

/** The `legacy` option of createSessionStore: where sessions were kept before. */
export interface LegacyOptions {
  /** 'connect-redis' (`prefix + id` strings holding JSON), or redisession's 'string' / 'hash' mode. */
  layout: LegacyLayout;
  /** The old store's prefix. @default 'sess:' for connect-redis; required otherwise */
  prefix?: string;
  /** 'hash' layout: the old store's bucket count. @default 65536 */
  buckets?: number;
  /** 'connect-redis' layout: its serializer, if not JSON (connect-redis's `serializer` option). @default JSON */
  serializer?: { parse(text: string): unknown };
}

export interface LegacySource {
  layout: LegacyLayout;
  prefix: Buffer;
  buckets: number;
  parse: (text: string) => unknown;
}

/** Where one session sits in the legacy layout. */
export interface LegacyAddress {
  key: Buffer;
  /** The field, for the 'hash' layout; null for a string key. */
  field: Buffer | null;
}

/** What a move did with one legacy session. */
/** 'revoked': the owner was logged out everywhere (destroyUser) after this copy was written: dropped. */
export type MoveOutcome = 'moved' | 'newer' | 'gone' | 'expired' | 'unreadable' | 'revoked';

/** The store's side of a move: its key scheme, layout and codec. */
export interface MoveTarget<L> {
  client: () => RedisClient;
  codec: Codec;
  /** Whether values carry their own expiry (hash mode). */
  storesExpiry: boolean;
  defaultTtlMs: number;
  /** A legacy-layout session id -> the store's key; null when the id is refused. */
  keyOf: (sid: string) => Buffer | null;
  locate: (key: Buffer) => L;
  /** The Redis key and field ('' for a string key) a location is written to. */
  where: (loc: L) => { key: Buffer; field: Buffer | '' };
  read: (loc: L) => Promise<Buffer | null>;
  /**
   * Indexes the session's owner (userId option) before it lands in the new layout; false when the
   * owner's index refuses it (the user was logged out everywhere since: a legacy copy is older than
   * any such logout, as the legacy layout records no write time).
   */
  beforeWrite?: (session: Record<string, unknown>, key: Buffer, expiresAt: number, ttlMs: number) => Promise<boolean>;
  logger: Logger;
}

export function resolveLegacy(value: unknown, store: { mode: string; prefix: Buffer }): LegacySource | null {
  if (value === undefined) return null;
  const bad = (what: string): never => {
    throw new ConfigError(`option "legacy": ${what}`);
  };
  if (typeof value !== 'object' || value === null) return bad('expected { layout, prefix?, buckets?, serializer? }');
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !['layout', 'prefix', 'buckets', 'serializer'].includes(k));
  if (unknown.length > 0) bad(`unknown field "${unknown[0]}"; known: layout, prefix, buckets, serializer`);
  if (!LEGACY_LAYOUTS.includes(o.layout as LegacyLayout)) bad(`layout must be one of ${LEGACY_LAYOUTS.join(', ')}`);
  const layout = o.layout as LegacyLayout;
  const prefix = o.prefix ?? (layout === 'connect-redis' ? 'sess:' : undefined);
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 128) {
    bad(
      `prefix must be a non-empty string of at most 128 characters${layout === 'connect-redis' ? '' : ' (required)'}`,
    );
  }
  const buckets = o.buckets ?? 65536;
  if (typeof buckets !== 'number' || !Number.isInteger(buckets) || buckets < 1 || buckets > 2 ** 24) {
    bad('buckets must be an integer from 1 to 16777216');
  }
  const serializer = o.serializer as { parse?: unknown } | undefined;
  if (serializer !== undefined && typeof serializer?.parse !== 'function')
    bad('serializer must have a parse(text) method');
  const p = Buffer.from(prefix as string, 'utf8');
  if (layout !== 'connect-redis' && layout === store.mode && p.equals(store.prefix)) {
    bad('it names the store itself (same mode and prefix): nothing to move');
  }
  return {
    layout,
    prefix: p,
    buckets: buckets as number,
    parse: serializer ? (text) => (serializer.parse as (t: string) => unknown)(text) : (text) => JSON.parse(text),
  };
}

export interface LegacyFallback<L> {
  readonly source: LegacySource;
  /** The store's key for a session id; null when the id is refused. */
  keyOf(sid: string): Buffer | null;
  /** Legacy address of a session, from its id (connect-redis) or the store's key. */
  addressOf(sid: string, key: Buffer): LegacyAddress;
  /** On a miss: moves the legacy session (if any) and returns its value in the new layout, or null. */
  claim(sid: string, key: Buffer, loc: L): Promise<Buffer | null>;
  /** Moves one legacy session found by the bulk move (its value already read); never overwrites a newer one. */
  move(address: LegacyAddress, raw: Buffer, pttl: number, key: Buffer, dryRun?: boolean): Promise<MoveOutcome>;
  /** Where destroy removes the legacy copy, in the same script as the session (a single node only: throws on a cluster). */
  copyOf(sid: string, key: Buffer): LegacyAddress;
  /** Deletes a legacy copy of a destroyed session (an old web server wrote it back). */
  drop(sid: string, key: Buffer): Promise<void>;
}

export function legacyFallback<L>(source: LegacySource, target: MoveTarget<L>): LegacyFallback<L> {
  const redis = () => {
    const c = target.client();
    if (c.isCluster) {
      throw new RedisessionError(
        'the legacy fallback moves a session with one script over its old and new keys, which a cluster may ' +
          'place on different nodes: it needs a single Redis node',
      );
    }
    return withScripts(c);
  };
  const width = bucketWidth(source.buckets);

  const addressOf = (sid: string, key: Buffer): LegacyAddress => {
    if (source.layout === 'connect-redis')
      return { key: Buffer.concat([source.prefix, Buffer.from(sid)]), field: null };
    if (source.layout === 'string') return { key: Buffer.concat([source.prefix, key]), field: null };
    return { key: bucketKey(source.prefix, defaultBucketOf(key, source.buckets), width), field: key };
  };

  /** Deletes a legacy copy (destroy, or a copy of a user logged out everywhere). */
  async function dropAt(at: LegacyAddress): Promise<void> {
    if (at.field) await redis().hdel(at.key, at.field);
    else await redis().unlink(at.key);
  }

  /** The legacy value and its remaining life; null when absent (or another type sits there). */
  async function read(at: LegacyAddress): Promise<{ raw: Buffer; pttl: number } | null> {
    try {
      if (at.field) {
        const raw = await redis().hgetBuffer(at.key, at.field);
        return raw ? { raw, pttl: -1 } : null;
      }
      const [[e1, raw], [e2, pttl]] = (await redis().pipeline().getBuffer(at.key).pttl(at.key).exec()) as Array<
        [Error | null, unknown]
      > as [[Error | null, Buffer | null], [Error | null, number]];
      if (e1 || e2 || !raw) return null;
      return { raw, pttl };
    } catch (err) {
      if (/WRONGTYPE/.test((err as Error).message)) return null;
      throw err;
    }
  }

  /** The legacy session and how long it has left, or why it cannot be moved. */
  async function decode(
    raw: Buffer,
    pttl: number,
  ): Promise<{ session: Record<string, unknown>; ttlMs: number } | MoveOutcome> {
    const now = Date.now();
    let session: unknown;
    let ttlMs: number;
    try {
      if (source.layout === 'connect-redis') {
        session = source.parse(raw.toString('utf8'));
        ttlMs = pttl > 0 ? pttl : ttlMsFor(session, target.defaultTtlMs, now);
      } else {
        const d = await target.codec.decode(raw);
        session = d.session;
        ttlMs =
          d.expiresAt !== null ? d.expiresAt - now : pttl > 0 ? pttl : ttlMsFor(session, target.defaultTtlMs, now);
      }
    } catch (err) {
      target.logger.warn(
        // the parser's own message may quote the session's bytes: its name and position only
        { reason: err instanceof CorruptValueError ? err.message : parseFailure(err) },
        'redisession: legacy session cannot be decoded; left in place',
      );
      return 'unreadable';
    }
    if (typeof session !== 'object' || session === null || Array.isArray(session)) return 'unreadable';
    return ttlMs > 0 ? { session: session as Record<string, unknown>, ttlMs: Math.ceil(ttlMs) } : 'expired';
  }

  async function move(at: LegacyAddress, raw: Buffer, pttl: number, key: Buffer, dryRun = false): Promise<MoveOutcome> {
    const decoded = await decode(raw, pttl);
    if (typeof decoded === 'string') return decoded;
    if (dryRun) return 'moved';
    const now = Date.now();
    const expiresAt = now + decoded.ttlMs;
    const value = await target.codec.encode(decoded.session, target.storesExpiry ? expiresAt : null);
    if ((await target.beforeWrite?.(decoded.session, key, expiresAt, decoded.ttlMs)) === false) {
      // logged out everywhere: an old copy must not bring the session back
      await dropAt(at);
      return 'revoked';
    }
    const to = target.where(target.locate(key));
    const done = await redis().rsLegacyMove(at.key, to.key, at.field ?? '', raw, to.field, value, decoded.ttlMs, now);
    return done === 1 ? 'moved' : done === 0 ? 'newer' : 'gone';
  }

  return {
    source,
    keyOf: target.keyOf,
    addressOf,
    move,

    async claim(sid, key, loc) {
      const at = addressOf(sid, key);
      // A few rounds: an old web server still writing the legacy key can change it under us.
      for (let round = 0; round < 3; round++) {
        const found = await read(at);
        // Gone from the legacy layout: a concurrent request may have just moved it (it writes the
        // new copy before deleting the old one in one script), so look in the new layout again.
        if (!found) return target.read(loc);
        const outcome = await move(at, found.raw, found.pttl, key);
        if (outcome === 'unreadable' || outcome === 'expired' || outcome === 'revoked') return null;
        const now = await target.read(loc);
        if (now !== null || outcome !== 'gone') return now;
      }
      return null;
    },

    copyOf(sid, key) {
      redis(); // the cluster check
      return addressOf(sid, key);
    },

    drop: (sid, key) => dropAt(addressOf(sid, key)),
  };
}

// The bulk move (src/migrate/bulk.ts) drives the fallback of a store built from the same options.
// biome-ignore lint/suspicious/noExplicitAny: each mode has its own location type
const registry = new WeakMap<object, LegacyFallback<any>>();

// biome-ignore lint/suspicious/noExplicitAny: see registry
export function registerLegacy<S extends object>(store: S, fallback: LegacyFallback<any> | null): S {
  if (fallback) registry.set(store, fallback);
  return store;
}

/** The legacy fallback of a store, or null when it was made without the `legacy` option. */
// biome-ignore lint/suspicious/noExplicitAny: see registry
export function legacyOf(store: object): LegacyFallback<any> | null {
  return registry.get(store) ?? null;
}
