import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { BUILTIN_COMPRESSOR_IDS } from '../codec/compressors.js';
import { BUILTIN_SERIALIZER_IDS } from '../codec/serializers.js';
import { manifestKey, shownKey } from '../keys/manifest-key.js';
import type { RedisClient } from '../redis/connections.js';
import { withScripts } from '../redis/scripts.js';
import { RedisessionError } from './errors.js';

/*
 * A store describes itself in Redis: one JSON string under its prefix (src/keys/manifest-key.ts)
 * recording how its sessions are laid out. The web tier writes it on its first call and checks it
 * on every start; the worker, the CLI, stats and doctor read their layout from it instead of
 * trusting their own environment. Never the idSecret: only a fingerprint of it.
 */

/** The format this code writes; a manifest of a higher format was written by a newer version. */
export const MANIFEST_FORMAT = 1;

/** What decides where a session is stored: parties that disagree on any of it miss each other's sessions. */
export interface StoreLayout {
  mode: 'hash' | 'string';
  /** Hash mode: the number of bucket hashes; null in string mode. */
  buckets: number | null;
  /** How ids become keys: the default encoding, an HMAC with idSecret, or a custom keyGenerator. */
  keyScheme: 'default' | 'hashed' | 'custom';
  /** keyScheme 'hashed': the fingerprint of idSecret (idSecretFingerprint); null otherwise. */
  idSecret: string | null;
  /** Hash mode: the default key -> bucket hash, or a custom hashKeyGenerator; null in string mode. */
  bucketOf: 'default' | 'custom' | null;
}

export interface StoreManifest extends StoreLayout {
  format: number;
  /** Random, made with the manifest: tells apart two stores that use one prefix on two Redis servers. */
  id: string;
  /** Every codec a writer of this store has used (names: 'compact', 'snappy', 'custom:9'), oldest first. */
  codecs: { serializers: string[]; compressors: string[] };
  createdAt: string;
  /** The software and the part of it that wrote the manifest first (web tier, migrate job). */
  createdBy: string;
  /** The host it ran on. */
  createdOn: string;
}

/** A store's options contradict its recorded layout, or the recorded layout cannot be read. */
export class LayoutMismatchError extends RedisessionError {}

const FINGERPRINT_LABEL = 'redisession idSecret fingerprint v1';

/**
 * A short, stable name for an idSecret: an HMAC of a fixed label keyed with the secret. It tells
 * whether two parties hold the same secret without revealing it (anyone who could guess the secret
 * from it could as well test guesses against a session key of their own).
 */
export function idSecretFingerprint(secret: Buffer | string): string {
  return createHmac('sha256', secret).update(FINGERPRINT_LABEL).digest('hex').slice(0, 12);
}

const SERIALIZER_NAMES = new Map<number | string, string>(
  Object.entries(BUILTIN_SERIALIZER_IDS).map(([name, id]) => [id, name]),
);
const COMPRESSOR_NAMES = new Map<number | string, string>(
  Object.entries(BUILTIN_COMPRESSOR_IDS).map(([name, id]) => [id, name]),
);

/** A codec as the manifest names it: the built-in's name, or custom:<id> for one of the application's. */
export function codecName(kind: 'serializer' | 'compressor', id: number | string | null): string {
  if (id === null) return 'none';
  return (kind === 'serializer' ? SERIALIZER_NAMES : COMPRESSOR_NAMES).get(id) ?? `custom:${id}`;
}

let version: string | null = null;
function ourVersion(): string {
  if (version === null) {
    try {
      // dist/store -> the package root, and src/store -> the repository root alike
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version?: string;
      };
      version = pkg.version ?? '';
    } catch {
      version = '';
    }
  }
  return version ? `redisession ${version}` : 'redisession';
}

export function newManifest(
  layout: StoreLayout,
  codecs: StoreManifest['codecs'],
  createdBy: string,
  now = new Date(),
): StoreManifest {
  return {
    format: MANIFEST_FORMAT,
    id: randomBytes(6).toString('hex'),
    ...layout,
    codecs,
    createdAt: now.toISOString(),
    createdBy: `${ourVersion()} (${createdBy})`,
    createdOn: hostname(),
  };
}

/** In a few words, for log lines and messages: "hash mode, 65536 buckets, ids hashed with idSecret 3f2a9c1b7e0d". */
export function describeLayout(l: StoreLayout): string {
  const keys =
    l.keyScheme === 'hashed'
      ? `ids hashed with idSecret ${l.idSecret}`
      : l.keyScheme === 'custom'
        ? 'a custom keyGenerator'
        : 'default keys';
  const buckets =
    l.mode === 'hash' ? `, ${l.buckets} buckets${l.bucketOf === 'custom' ? ' (custom hashKeyGenerator)' : ''}` : '';
  return `${l.mode} mode${buckets}, ${keys}`;
}

/** One field on which two descriptions of a store differ. */
export interface LayoutConflict {
  field: 'mode' | 'buckets' | 'keyScheme' | 'idSecret' | 'bucketOf';
  recorded: string;
  here: string;
}

const show = (field: LayoutConflict['field'], l: StoreLayout): string => {
  if (field === 'idSecret') return l.idSecret === null ? 'none' : `fingerprint ${l.idSecret}`;
  return String(l[field]);
};

/** Where `here` contradicts the recorded layout (fields that do not apply to the mode are not compared). */
export function layoutConflicts(recorded: StoreLayout, here: StoreLayout): LayoutConflict[] {
  const fields: LayoutConflict['field'][] = ['mode'];
  if (recorded.mode === here.mode && here.mode === 'hash') fields.push('buckets', 'bucketOf');
  fields.push('keyScheme');
  if (recorded.keyScheme === 'hashed' && here.keyScheme === 'hashed') fields.push('idSecret');
  return fields
    .filter((f) => recorded[f] !== here[f])
    .map((field) => ({ field, recorded: show(field, recorded), here: show(field, here) }));
}

/** "buckets 4096 here, 65536 in the manifest; ..." */
export function describeConflicts(conflicts: LayoutConflict[], here = 'here'): string {
  return conflicts.map((c) => `${c.field} ${c.here} ${here}, ${c.recorded} in the manifest`).join('; ');
}

const isNames = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** The manifest in `raw`, or a LayoutMismatchError saying why it cannot be used. */
export function parseManifest(raw: string | Buffer, key: Buffer): StoreManifest {
  const bad = (why: string) =>
    new LayoutMismatchError(
      `the store's manifest (key ${shownKey(key)}) ${why}; inspect it with redisession manifest, and delete it ` +
        '(redisession manifest --forget) only if the layout it should record is known',
    );
  let m: Partial<StoreManifest>;
  try {
    m = JSON.parse(raw.toString()) as Partial<StoreManifest>;
  } catch {
    throw bad('is not JSON');
  }
  if (typeof m !== 'object' || m === null || typeof m.format !== 'number') throw bad('has no format number');
  if (m.format > MANIFEST_FORMAT) {
    throw new LayoutMismatchError(
      `the store's manifest (key ${shownKey(key)}) has format ${m.format}, written by a newer redisession ` +
        `(${m.createdBy ?? 'unknown'}); this version reads format ${MANIFEST_FORMAT}: upgrade it`,
    );
  }
  const ok =
    (m.mode === 'hash' || m.mode === 'string') &&
    (m.buckets === null || (Number.isInteger(m.buckets) && (m.buckets as number) > 0)) &&
    (m.mode === 'string' || m.buckets !== null) &&
    (m.keyScheme === 'default' || m.keyScheme === 'hashed' || m.keyScheme === 'custom') &&
    (m.keyScheme === 'hashed' ? typeof m.idSecret === 'string' : m.idSecret === null) &&
    (m.bucketOf === null || m.bucketOf === 'default' || m.bucketOf === 'custom') &&
    typeof m.id === 'string' &&
    isNames(m.codecs?.serializers) &&
    isNames(m.codecs?.compressors);
  if (!ok) throw bad('does not describe a layout this version understands');
  return {
    format: m.format,
    id: m.id as string,
    mode: m.mode as StoreLayout['mode'],
    buckets: m.buckets as number | null,
    keyScheme: m.keyScheme as StoreLayout['keyScheme'],
    idSecret: m.idSecret as string | null,
    bucketOf: m.bucketOf as StoreLayout['bucketOf'],
    codecs: m.codecs as StoreManifest['codecs'],
    createdAt: String(m.createdAt ?? ''),
    createdBy: String(m.createdBy ?? ''),
    createdOn: String(m.createdOn ?? ''),
  };
}

/** The store's manifest, or null when none is recorded (a new store, or one written before manifests). */
export async function readManifest(client: RedisClient, prefix: Buffer): Promise<StoreManifest | null> {
  const key = manifestKey(prefix);
  const raw = await client.getBuffer(key);
  return raw === null ? null : parseManifest(raw, key);
}

/**
 * Records `manifest` unless one exists, in one command (SET NX GET): returns the recorded one and
 * whether it was just created.
 */
export async function recordManifest(
  client: RedisClient,
  prefix: Buffer,
  manifest: StoreManifest,
): Promise<{ manifest: StoreManifest; created: boolean; raw: Buffer }> {
  const key = manifestKey(prefix);
  const text = Buffer.from(JSON.stringify(manifest));
  const raw = (await client.callBuffer('SET', key, text, 'NX', 'GET')) as Buffer | null;
  if (raw === null) return { manifest, created: true, raw: text };
  return { manifest: parseManifest(raw, key), created: false, raw };
}

/**
 * Adds codec names to the recorded list (compare-and-set, retried when another writer changed the
 * manifest meanwhile). Returns the manifest as it now stands.
 */
export async function addCodecs(
  client: RedisClient,
  prefix: Buffer,
  read: { manifest: StoreManifest; raw: Buffer },
  codecs: StoreManifest['codecs'],
): Promise<StoreManifest> {
  const key = manifestKey(prefix);
  let { manifest, raw } = read;
  for (let attempt = 0; attempt < 5; attempt++) {
    const serializers = [...new Set([...manifest.codecs.serializers, ...codecs.serializers])];
    const compressors = [...new Set([...manifest.codecs.compressors, ...codecs.compressors])];
    if (
      serializers.length === manifest.codecs.serializers.length &&
      compressors.length === manifest.codecs.compressors.length
    ) {
      return manifest;
    }
    const next = { ...manifest, codecs: { serializers, compressors } };
    if ((await withScripts(client).rsReplaceIfSame(key, raw, JSON.stringify(next))) === 1) return next;
    const again = await client.getBuffer(key);
    if (again === null) return manifest; // deleted meanwhile (manifest --forget): the next start records it again
    raw = again;
    manifest = parseManifest(raw, key);
  }
  return manifest;
}
