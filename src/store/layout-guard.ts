import { BUILTIN_COMPRESSOR_IDS } from '../codec/compressors.js';
import { BUILTIN_SERIALIZER_IDS } from '../codec/serializers.js';
import { manifestKey, shownKey } from '../keys/manifest-key.js';
import { sessionIdProblem } from '../keys/session-id.js';
import type { RedisClient } from '../redis/connections.js';
import type { Logger } from './logger.js';
import {
  addCodecs,
  codecName,
  describeConflicts,
  describeLayout,
  idSecretFingerprint,
  LayoutMismatchError,
  layoutConflicts,
  newManifest,
  recordManifest,
  type StoreLayout,
  type StoreManifest,
} from './manifest.js';
import type { ResolvedOptions } from './options.js';

/*
 * The web tier's side of the manifest: a store checks its options against the layout recorded in
 * Redis once, on its first call (one SET NX GET, which also records the layout when there is none),
 * and then never again: the request path pays nothing after the first call. A store that
 * contradicts the manifest refuses every call with the same error.
 */

export interface LayoutGuardSetup {
  client: () => RedisClient;
  prefix: Buffer;
  layout: StoreLayout;
  /** What this store writes with. */
  codecs: StoreManifest['codecs'];
  /** What this store can read (built-ins, configured and legacyCodecs), by manifest name. */
  readable: { serializers: ReadonlySet<string>; compressors: ReadonlySet<string> };
  /** Who records the manifest when there is none (see StoreOrigin). */
  createdBy: string;
  logger: Logger;
}

/**
 * Who makes a store, for the manifest it may record: passed by the worker's migrate jobs and the
 * CLI under this symbol in the options (invisible to option validation, absent from the public API).
 */
export const STORE_ORIGIN = Symbol('redisession.storeOrigin');

export interface StoreOrigin {
  /** Recorded as the manifest's createdBy. @default 'createSessionStore' */
  createdBy: string;
  /** false: never read or record the manifest (a read-only tool that checks it itself). @default true */
  checkLayout: boolean;
}

/** Options carrying their origin (see STORE_ORIGIN), for createSessionStore. */
export function withOrigin<O extends object>(options: O, origin: Partial<StoreOrigin>): O {
  return { ...options, [STORE_ORIGIN]: origin };
}

export function storeOrigin(options: object): StoreOrigin {
  const given = (options as { [STORE_ORIGIN]?: Partial<StoreOrigin> })[STORE_ORIGIN];
  return { createdBy: given?.createdBy ?? 'createSessionStore', checkLayout: given?.checkLayout ?? true };
}

const BUILTIN_SERIALIZERS = Object.keys(BUILTIN_SERIALIZER_IDS);
const BUILTIN_COMPRESSORS = Object.keys(BUILTIN_COMPRESSOR_IDS);

/** The layout and codecs resolved options describe, as the manifest records them. */
export function storeLayout(o: ResolvedOptions): Pick<LayoutGuardSetup, 'prefix' | 'layout' | 'codecs' | 'readable'> {
  const hash = o.mode === 'hash';
  const serializer = codecName('serializer', o.serializer.id);
  const compressor = codecName('compressor', o.compressor?.id ?? null);
  return {
    prefix: o.prefix,
    layout: {
      mode: o.mode,
      buckets: hash ? o.buckets : null,
      keyScheme: o.keyGenerator ? 'custom' : o.idSecret ? 'hashed' : 'default',
      idSecret: !o.keyGenerator && o.idSecret ? idSecretFingerprint(o.idSecret) : null,
      bucketOf: hash ? (o.hashKeyGenerator ? 'custom' : 'default') : null,
    },
    codecs: { serializers: [serializer], compressors: [compressor] },
    readable: {
      serializers: new Set([
        ...BUILTIN_SERIALIZERS,
        serializer,
        ...o.legacySerializers.map((s) => codecName('serializer', s.id)),
      ]),
      compressors: new Set([
        ...BUILTIN_COMPRESSORS,
        compressor,
        ...o.legacyCompressors.map((c) => codecName('compressor', c.id)),
      ]),
    },
  };
}

export interface LayoutGuard {
  /** true once the layout was checked (or recorded): calls then go straight through. */
  readonly checked: boolean;
  /** Checks once (concurrent callers share the check; a failed connection is retried by the next call). */
  check(): Promise<StoreManifest>;
}

export function layoutGuard(setup: LayoutGuardSetup): LayoutGuard {
  const { prefix, layout, logger } = setup;
  const shownPrefix = JSON.stringify(prefix.toString('utf8'));
  let checked = false;
  let pending: Promise<StoreManifest> | null = null;
  let refused: LayoutMismatchError | null = null;

  async function run(): Promise<StoreManifest> {
    const client = setup.client();
    const key = manifestKey(prefix);
    const read = await recordManifest(client, prefix, newManifest(layout, setup.codecs, setup.createdBy));
    if (read.created) {
      logger.info?.(
        { prefix: prefix.toString('utf8'), manifest: shownKey(key), layout: describeLayout(layout) },
        `redisession: recorded this store's layout in Redis (${describeLayout(layout)}): from now on a store, ` +
          'worker or CLI that contradicts it is refused. Sessions stored before under this prefix are taken ' +
          'to use this layout (a store older than the manifest is adopted as configured here)',
      );
      return read.manifest;
    }
    const recorded = read.manifest;
    const conflicts = layoutConflicts(recorded, layout);
    if (conflicts.length > 0) {
      throw new LayoutMismatchError(
        `redisession: this store's options contradict the layout recorded in Redis for prefix ${shownPrefix}: ` +
          `${describeConflicts(conflicts)} (manifest key ${shownKey(key)}, created ${recorded.createdAt} by ` +
          `${recorded.createdBy} on ${recorded.createdOn}). With these options the sessions already stored would ` +
          'not be found (everyone logged out). Use the recorded options, or another prefix (its "legacy" option ' +
          'moves the sessions over); if the old sessions may go, delete the manifest (redisession manifest --forget)',
      );
    }
    const unreadable = [
      ...recorded.codecs.serializers.filter((n) => !setup.readable.serializers.has(n)),
      ...recorded.codecs.compressors.filter((n) => !setup.readable.compressors.has(n)),
    ];
    if (unreadable.length > 0) {
      logger.warn(
        { prefix: prefix.toString('utf8'), codecs: unreadable },
        `redisession: this store has sessions written with ${unreadable.join(', ')}, which this store cannot ` +
          'read (they are misses): add the codec to legacyCodecs',
      );
    }
    return addCodecs(client, prefix, read, setup.codecs);
  }

  return {
    get checked() {
      return checked;
    },
    check() {
      if (refused) return Promise.reject(refused);
      pending ??= run().then(
        (manifest) => {
          checked = true;
          return manifest;
        },
        (err: unknown) => {
          pending = null;
          if (err instanceof LayoutMismatchError) {
            refused = err;
            logger.error({ prefix: prefix.toString('utf8') }, err.message);
          }
          throw err;
        },
      );
      return pending;
    },
  };
}

/** The store methods that touch Redis: each waits for the layout check on its first call. */
const GUARDED = [
  'get',
  'set',
  'touch',
  'destroy',
  'destroyUser',
  'sessionsOf',
  'length',
  'ids',
  'all',
  'clear',
  'sweep',
] as const;
/** Their first argument is a session id: a refused one is answered without Redis, so without the check. */
const BY_ID = new Set<string>(['get', 'set', 'touch', 'destroy']);
/** Writes: their third argument carries when they were called (CALLED_AT) while they wait for the check. */
const WRITES = new Set<string>(['set', 'touch']);

/**
 * When a write waiting for the layout check was called. A write's time is when it was called, not
 * when the check let it through: destroyUser's fence refuses every write of the user that started
 * before it, and a save called before a log out everywhere must stay refused even when the check
 * (one round trip) lets it reach Redis after the log out (found by the log-out model check).
 */
export const CALLED_AT = Symbol('redisession.calledAt');

/**
 * The store with every Redis-touching method checking the layout first; once checked, a call costs
 * one property read more. Getters (`redis`) and other fields are carried over as they are.
 */
export function guardStore<S extends Record<(typeof GUARDED)[number], (...args: never[]) => Promise<unknown>>>(
  store: S,
  guard: LayoutGuard,
): S {
  const descriptors = Object.getOwnPropertyDescriptors(store);
  for (const name of GUARDED) {
    const fn = store[name] as (a?: unknown, b?: unknown, c?: unknown) => Promise<unknown>;
    const byId = BY_ID.has(name);
    descriptors[name] = {
      ...descriptors[name],
      // fixed arity (no method takes more than 3 arguments): no rest array per call on the request path
      value: (a?: unknown, b?: unknown, c?: unknown) => {
        if (guard.checked || (byId && sessionIdProblem(a) !== null)) return fn(a, b, c);
        // (ttlMs read, not spread: a getter or an inherited ttlMs must reach the write too)
        const args = WRITES.has(name)
          ? ([a, b, { ttlMs: (c as { ttlMs?: number } | undefined)?.ttlMs, [CALLED_AT]: Date.now() }] as const)
          : [a, b, c];
        return guard.check().then(() => fn(...args));
      },
    };
  }
  const entries = (store as { entries?: () => AsyncGenerator<unknown> }).entries;
  if (typeof entries === 'function') {
    // a generator, not a promise: the check runs before its first page
    (descriptors as Record<string, PropertyDescriptor>).entries = {
      ...(descriptors as Record<string, PropertyDescriptor>).entries,
      value: async function* () {
        if (!guard.checked) await guard.check();
        yield* entries();
      },
    };
  }
  return Object.defineProperties({}, descriptors) as S;
}
