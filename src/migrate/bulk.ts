import { bucketKey, bucketWidth } from '../keys/buckets.js';
import { isDefaultKey } from '../keys/key-scheme.js';
import { isManifestKey } from '../keys/manifest-key.js';
import { NODE_PIPELINE_MAX, pipelinePerKey } from '../redis/pipeline.js';
import { hashSlices, type ScanPosition, scanPrefixPages } from '../redis/scan.js';
import { ConfigError } from '../store/errors.js';
import type { SessionStore } from '../store/session-store.js';
import type { BucketRange } from '../sweep/plan.js';
import { type LegacyAddress, type LegacyFallback, legacyOf, type MoveOutcome } from './legacy.js';

/*
 * The bulk move: walks the legacy layout and moves every session with the same atomic step the
 * read-through uses (legacy_move.lua), so it can run while the web tier serves requests, be
 * stopped and resumed from a checkpoint, and run twice: a session already moved is gone from the
 * legacy layout, and a newer session in the new layout is never overwritten.
 */

/** Where a move stands: enough to resume it (the worker keeps it in job progress). */
export interface MigrateCheckpoint {
  /** 'hash' layout: next legacy bucket index; others: next SCAN position; null at the start. */
  position: number | ScanPosition | null;
  /** Legacy buckets (hash) or keys (connect-redis, string) visited. */
  done: number;
  /** Legacy sessions looked at. */
  scanned: number;
  moved: number;
  /** Left alone because the new layout already held a live (newer) session; the legacy copy went. */
  newer: number;
  /** Expired, unreadable, or with an id the store refuses: not moved (left in place). */
  skipped: number;
  /**
   * Keys under the old prefix that are no session of that layout (an app's own `sess:config`
   * JSON without a cookie, a key our key scheme never makes): left alone, and not in `scanned`.
   */
  foreign: number;
}

export interface MigrateOptions {
  /** 'hash' layout: only legacy buckets in [from, to) (a shard). @default every bucket */
  range?: BucketRange;
  /** Legacy buckets or keys per round trip. @default 100 */
  batch?: number;
  /** Count what would move, move nothing. @default false */
  dryRun?: boolean;
  checkpoint?: MigrateCheckpoint;
  /** Called after every batch, awaited (it can persist the checkpoint). */
  onProgress?: (checkpoint: MigrateCheckpoint) => void | Promise<void>;
  /** When aborted, stops after the batch under way; completed is then false. */
  signal?: AbortSignal;
}

export interface MigrateResult extends MigrateCheckpoint {
  completed: boolean;
  durationMs: number;
}

interface Found {
  address: LegacyAddress;
  raw: Buffer;
  pttl: number;
  /** The store's key for it; null when the id is refused. */
  key: Buffer | null;
  /** Not a session of the legacy layout: never moved, never deleted. */
  foreign?: true;
}

/**
 * Whether a connect-redis value is an express-session session: connect-redis serves only
 * express-session, which always stores the `cookie` object. Anything else under its prefix is
 * someone else's data. An unparsable value is left to the move, which counts it unreadable.
 */
function isExpressSession(raw: Buffer, parse: (text: string) => unknown): boolean {
  let value: unknown;
  try {
    value = parse(raw.toString('utf8'));
  } catch {
    return true;
  }
  const cookie = (value as { cookie?: unknown } | null)?.cookie;
  return typeof value === 'object' && value !== null && typeof cookie === 'object' && cookie !== null;
}

/** Batches of legacy sessions with their values, from a saved position. */
async function* legacyBatches(
  store: SessionStore,
  legacy: LegacyFallback<unknown>,
  opts: MigrateOptions,
): AsyncGenerator<{ found: Found[]; units: number; next: MigrateCheckpoint['position'] }> {
  const client = store.redis;
  const { source } = legacy;
  const batch = opts.batch ?? 100;
  const start = opts.checkpoint?.position ?? null;
  if (source.layout === 'hash') {
    const width = bucketWidth(source.buckets);
    const range = opts.range ?? { from: 0, to: source.buckets };
    for (let i = typeof start === 'number' ? start : range.from; i < range.to; i += batch) {
      const end = Math.min(i + batch, range.to);
      const found: Found[] = [];
      const buckets = Array.from({ length: end - i }, (_, j) => bucketKey(source.prefix, i + j, width));
      for await (const slices of hashSlices(client, buckets, 500)) {
        for (const { key, flat } of slices) {
          for (let f = 0; f + 1 < flat.length; f += 2) {
            const field = flat[f] as Buffer;
            found.push({ address: { key, field }, raw: flat[f + 1] as Buffer, pttl: -1, key: field });
          }
        }
      }
      yield { found, units: end - i, next: end };
    }
    return;
  }
  // connect-redis and string: one SCAN over the legacy prefix (it cannot be split, so one shard)
  const from = start !== null && typeof start === 'object' ? start : undefined;
  const ownPrefix = Buffer.from(store.prefix, 'utf8');
  // a string-mode store under the same (or a longer) prefix: its keys are in the SCAN too, and are
  // no legacy sessions (a connect-redis id never starts with a key scheme's tag byte)
  const isOwn = (k: Buffer) =>
    store.mode === 'string' &&
    k.subarray(0, ownPrefix.length).equals(ownPrefix) &&
    isDefaultKey(k.subarray(ownPrefix.length));
  for await (const page of scanPrefixPages(client, source.prefix, 'string', batch, from)) {
    // the old store's recorded layout (manifest) is not a session either
    const keys = page.keys.filter((k) => !isOwn(k) && !isManifestKey(k, source.prefix));
    const replies = await pipelinePerKey(client, keys, (pipe, k) => pipe.getBuffer(k).pttl(k));
    const found: Found[] = [];
    keys.forEach((k, i) => {
      const [[e1, raw], [e2, pttl]] = replies[i] as [[Error | null, Buffer | null], [Error | null, number]];
      if (e1 || e2 || !raw) return; // gone meanwhile (moved by a web request, or expired)
      const rest = k.subarray(source.prefix.length);
      const address = { key: k, field: null };
      if (source.layout === 'connect-redis') {
        if (!isExpressSession(raw, source.parse)) found.push({ address, raw, pttl, key: null, foreign: true });
        else found.push({ address, raw, pttl, key: legacy.keyOf(rest.toString('utf8')) });
      } else if (isDefaultKey(rest)) {
        found.push({ address, raw, pttl, key: rest });
      } else {
        // another store's keys can sit under a shorter prefix: only what could be a session key is moved
        found.push({ address, raw, pttl, key: null, foreign: true });
      }
    });
    yield { found, units: page.keys.length, next: page.next };
  }
}

/**
 * Moves one batch keeps in flight at most: Redis runs a client's calls back to back, so a web
 * request waits behind at most this many moves (a batch of 100 legacy buckets can hold thousands
 * of sessions). The same bound as a pipeline (src/redis/pipeline.ts).
 */
const MOVES_IN_FLIGHT = NODE_PIPELINE_MAX;

/**
 * `fn` over `items` with at most `limit` calls pending at once; results in item order. After a
 * failure no further call starts, and the first error is thrown once the calls under way are done
 * (so a retried shard never runs beside moves of its failed attempt).
 */
async function inFlight<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, lane));
  const failure = lanes.find((l) => l.status === 'rejected');
  if (failure) throw failure.reason;
  return out;
}

/**
 * Moves the sessions of a store's `legacy` source into the store (built with that option), a
 * batch at a time, keeping each session's remaining TTL. Shared by the worker's migrate shards.
 */
export async function runMigration(store: SessionStore, options: MigrateOptions = {}): Promise<MigrateResult> {
  const legacy = legacyOf(store);
  if (!legacy) throw new ConfigError('runMigration needs a store made with the "legacy" option (where to move from)');
  const batch = options.batch ?? 100;
  if (!Number.isInteger(batch) || batch < 1 || batch > 10_000) {
    throw new ConfigError(`migrate option "batch": got ${batch}; expected an integer from 1 to 10000`);
  }
  // the target's options against its recorded layout, before the first session moves into it
  await store.checkLayout?.();
  const started = Date.now();
  const state: MigrateCheckpoint = {
    position: null,
    done: 0,
    scanned: 0,
    moved: 0,
    newer: 0,
    skipped: 0,
    foreign: 0,
    ...options.checkpoint,
  };
  /** Which total each outcome adds to ('gone': a web request moved it meanwhile). */
  const field: Record<MoveOutcome, 'moved' | 'newer' | 'skipped' | null> = {
    moved: 'moved',
    newer: 'newer',
    gone: null,
    expired: 'skipped',
    unreadable: 'skipped',
    revoked: 'skipped',
  };
  const count = (outcome: MoveOutcome, n: number) => {
    const f = field[outcome];
    if (f) state[f] += n;
  };
  let completed = true;
  for await (const { found, units, next } of legacyBatches(store, legacy, options)) {
    if (options.signal?.aborted) {
      completed = false;
      break;
    }
    const sessions = found.filter((f) => !f.foreign);
    const outcomes = await inFlight(sessions, MOVES_IN_FLIGHT, (f) =>
      f.key === null
        ? Promise.resolve('unreadable' as const)
        : legacy.move(f.address, f.raw, f.pttl, f.key, options.dryRun ?? false),
    );
    for (const o of outcomes) count(o, 1);
    state.scanned += sessions.length;
    state.foreign += found.length - sessions.length;
    state.done += units;
    state.position = next;
    await options.onProgress?.({ ...state });
  }
  return { ...state, completed, durationMs: Date.now() - started };
}
