import { UnrecoverableError } from 'bullmq';
import { LayoutMismatchError, type RedisClient, type StoreLayout, type StoreManifest } from 'redisession';
import { describeLayout, idSecretFingerprint, readManifest } from 'redisession/internal';
import type { WorkerConfig } from './config.js';
import type { Logger } from './logger.js';

/*
 * Which store the worker and the CLI act on, and its layout. The prefix comes from the environment
 * (SESSION_PREFIX: it is how the store is found); the layout comes from the store's manifest when
 * it has one, and from SESSION_MODE / SESSION_BUCKETS only for a store that has none yet (written
 * before manifests, or never used). SESSION_ID_SECRET is never taken from anywhere else: only a
 * party that holds the secret can derive keys, so a differing one is refused, not overridden.
 */

/** A store as requests name it (BullMQ job data): a worker only serves requests for its own store. */
export interface StoreRef {
  prefix: string;
  /** The manifest id the requester read (null when it found none): tells two Redis servers apart. */
  id: string | null;
}

/** The store a summary names: what was acted on, and where its layout came from. */
export interface StoreSummary extends StoreRef {
  mode: 'hash' | 'string';
  /** Hash mode: bucket count; null in string mode. */
  buckets: number | null;
  layout: 'manifest' | 'environment';
}

export interface ServedStore {
  prefix: string;
  /** What the work uses: the manifest's layout, or the environment's when there is no manifest. */
  layout: StoreLayout;
  manifest: StoreManifest | null;
  /** Where the environment says otherwise than the manifest (the manifest wins; each is logged). */
  differences: EnvDifference[];
  /** SESSION_ID_SECRET set and contradicting the manifest: a party deriving keys must refuse. */
  secretProblem: string | null;
}

export interface EnvDifference {
  variable: 'SESSION_MODE' | 'SESSION_BUCKETS';
  env: string | number;
  manifest: string | number;
}

/** The layout SESSION_* describe (a custom keyGenerator cannot be expressed there). */
export function envLayout(config: WorkerConfig): StoreLayout {
  const { mode, buckets, idSecret } = config.session;
  return {
    mode,
    buckets: mode === 'hash' ? buckets : null,
    keyScheme: idSecret ? 'hashed' : 'default',
    idSecret: idSecret ? idSecretFingerprint(idSecret) : null,
    bucketOf: mode === 'hash' ? 'default' : null,
  };
}

/** What a worker without (or with another) SESSION_ID_SECRET cannot do for this manifest; null when fine. */
function secretProblem(manifest: StoreManifest, secret: string | null): string | null {
  if (secret === null) return null; // sweeps need no secret; a migration says what it needs itself
  const mine = idSecretFingerprint(secret);
  if (manifest.keyScheme === 'custom') {
    return `SESSION_ID_SECRET is set (fingerprint ${mine}), but the store's manifest records a custom keyGenerator`;
  }
  if (manifest.keyScheme === 'default') {
    return `SESSION_ID_SECRET is set (fingerprint ${mine}), but the store's manifest records ids that are not hashed (no idSecret)`;
  }
  return manifest.idSecret === mine
    ? null
    : `SESSION_ID_SECRET has fingerprint ${mine}, but the store's manifest records fingerprint ${manifest.idSecret}: ` +
        'not the web tier’s idSecret';
}

/** The store for this prefix as its manifest (or, without one, the environment) describes it. */
export function servedStore(config: WorkerConfig, manifest: StoreManifest | null, prefix = config.session.prefix) {
  const env = envLayout(config);
  if (!manifest) return { prefix, layout: env, manifest: null, differences: [], secretProblem: null } as ServedStore;
  const differences: EnvDifference[] = [];
  if (env.mode !== manifest.mode)
    differences.push({ variable: 'SESSION_MODE', env: env.mode, manifest: manifest.mode });
  else if (manifest.mode === 'hash' && env.buckets !== manifest.buckets) {
    differences.push({ variable: 'SESSION_BUCKETS', env: env.buckets as number, manifest: manifest.buckets as number });
  }
  const layout: StoreLayout = {
    mode: manifest.mode,
    buckets: manifest.buckets,
    keyScheme: manifest.keyScheme,
    idSecret: manifest.idSecret,
    bucketOf: manifest.bucketOf,
  };
  return { prefix, layout, manifest, differences, secretProblem: secretProblem(manifest, config.session.idSecret) };
}

/** Reads the manifest under the prefix (SESSION_PREFIX unless given) and resolves the store. */
export async function resolveStore(
  config: WorkerConfig,
  sessions: RedisClient,
  prefix = config.session.prefix,
): Promise<ServedStore> {
  return servedStore(config, await readManifest(sessions, Buffer.from(prefix, 'utf8')), prefix);
}

export function storeRef(s: ServedStore): StoreRef {
  return { prefix: s.prefix, id: s.manifest?.id ?? null };
}

export function storeSummary(s: ServedStore): StoreSummary {
  return {
    ...storeRef(s),
    mode: s.layout.mode,
    buckets: s.layout.buckets,
    layout: s.manifest ? 'manifest' : 'environment',
  };
}

/** `store "b:" (hash mode, 256 buckets)`: how summaries and messages name a store. */
export function describeStore(s: Pick<StoreSummary, 'prefix' | 'mode' | 'buckets'>): string {
  return `store ${JSON.stringify(s.prefix)} (${s.mode} mode${s.mode === 'hash' ? `, ${s.buckets} buckets` : ''})`;
}

/** "hash mode, 65536 buckets, default keys (from its manifest)". */
export function describeServed(s: ServedStore): string {
  return `${describeLayout(s.layout)} (${s.manifest ? 'from its manifest' : 'no manifest yet: from SESSION_*'})`;
}

/** The line saying an environment variable lost to the manifest. */
export function differenceMessage(d: EnvDifference): string {
  return `${d.variable}=${d.env} differs from the store's manifest (${d.manifest}): using the manifest; fix ${d.variable}`;
}

/** Differences already logged by this process: one that lasts is said once, not at every sweep. */
const said = new Set<string>();

/** Logs each difference between SESSION_* and the manifest, once per process. */
export function noteDifferences(logger: Logger, served: ServedStore): void {
  for (const d of served.differences) {
    const message = differenceMessage(d);
    if (said.has(message)) continue;
    said.add(message);
    logger.warn({ prefix: served.prefix, variable: d.variable, env: d.env, manifest: d.manifest }, message);
  }
}

/**
 * Why a request is not for the store this worker serves, or null when it is. A request without a
 * store (from an older CLI, or a schedule an older worker set) is for the worker's store, as before.
 */
export function foreignRequest(what: string, ref: StoreRef | undefined, served: ServedStore): string | null {
  if (!ref) return null;
  const mine = storeRef(served);
  if (ref.prefix !== mine.prefix) {
    return (
      `${what} for store ${JSON.stringify(ref.prefix)} refused: this worker serves store ${JSON.stringify(mine.prefix)}. ` +
      'Two stores share this queue: give each its own QUEUE_NAME, or leave QUEUE_NAME unset (it is then derived ' +
      'from SESSION_PREFIX)'
    );
  }
  if (ref.id !== null && ref.id !== mine.id) {
    return (
      `${what} for store ${JSON.stringify(ref.prefix)} refused: the requester read the store's manifest ${ref.id}, ` +
      `this worker ${mine.id === null ? 'finds no manifest' : `finds manifest ${mine.id}`} under that prefix: ` +
      'they look at two different Redis servers (REDIS_URL) sharing one queue'
    );
  }
  return null;
}

/*
 * Workers name their queue connection after their store (BullMQ's worker `name`, which becomes the
 * client name CLIENT LIST shows), so the doctor and the CLI can tell whose workers are on a queue.
 * Client names allow no spaces: the prefix is base64url.
 */
const TAG = 'rs-store.';

export function workerName(ref: StoreRef): string {
  return `${TAG}${Buffer.from(ref.prefix, 'utf8').toString('base64url')}${ref.id ? `.${ref.id}` : ''}`;
}

/** The store a worker's client name (BullMQ getWorkers' rawname) says it serves; null for an older or foreign worker. */
export function storeOfWorker(rawname: string | undefined): StoreRef | null {
  const at = rawname?.indexOf(`:w:${TAG}`) ?? -1;
  if (rawname === undefined || at < 0) return null;
  const [prefix = '', id] = rawname.slice(at + 3 + TAG.length).split('.');
  return { prefix: Buffer.from(prefix, 'base64url').toString('utf8'), id: id ?? null };
}

/**
 * The store this worker serves, read afresh for each request (the web tier may have recorded its
 * manifest since the worker started), and the request refused when it names another store.
 */
export async function servedFor(
  deps: { config: WorkerConfig; sessions: RedisClient; logger: Logger },
  what: string,
  ref: StoreRef | undefined,
): Promise<ServedStore> {
  let served: ServedStore;
  let read = true;
  try {
    served = await resolveStore(deps.config, deps.sessions);
  } catch (err) {
    if (err instanceof LayoutMismatchError) {
      deps.logger.error({ prefix: deps.config.session.prefix }, err.message);
      throw new UnrecoverableError(err.message);
    }
    // the sessions' Redis cannot be reached now: plan from SESSION_*; each shard checks the manifest
    // before it sweeps (and fails, to be retried, while Redis stays unreachable)
    deps.logger.warn({ err: (err as Error).message }, "cannot read the store's manifest: planning from SESSION_*");
    served = servedStore(deps.config, null);
    read = false;
  }
  // unread, the manifest's id is unknown: only the prefix can be compared
  const foreign = foreignRequest(what, ref && !read ? { ...ref, id: null } : ref, served);
  if (foreign) {
    deps.logger.error({ requested: ref, serves: storeRef(served) }, foreign);
    throw new UnrecoverableError(foreign);
  }
  noteDifferences(deps.logger, served);
  return served;
}
