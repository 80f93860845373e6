import type { LegacyLayout, RedisClient, StoreLayout } from 'redisession';
import { describeLayout, idSecretFingerprint, readManifest } from 'redisession/internal';
import { type WorkerConfig, withPrefix } from '../worker/config.js';
import { differenceMessage, type StoreRef, servedStore } from '../worker/served-store.js';

/*
 * What `redisession migrate` asks the worker for: the target store's layout from its manifest (the
 * flags and SESSION_* only for a store that has none yet), the source's bucket count from its own
 * manifest when it is a redisession store, and the key scheme both must share. The CLI's
 * SESSION_ID_SECRET travels as a fingerprint only; the worker refuses when its own differs.
 */

export interface MigrateLayoutArgs {
  from: LegacyLayout;
  fromPrefix: string;
  fromBuckets?: number;
  to?: 'hash' | 'string';
  prefix?: string;
  buckets?: number;
}

export interface MigrateTarget {
  /** The configuration for the target store (its own queue when QUEUE_NAME is unset). */
  config: WorkerConfig;
  store: StoreRef;
  to: 'hash' | 'string';
  buckets: number;
  fromBuckets: number;
  keyScheme: 'default' | 'hashed';
  idSecret: string | null;
  /** What the operator should know (printed on stderr): differences with SESSION_*, a missing manifest. */
  notes: string[];
}

export async function migrateTarget(
  base: WorkerConfig,
  args: MigrateLayoutArgs,
  sessions: RedisClient,
): Promise<MigrateTarget> {
  const prefix = args.prefix ?? base.session.prefix;
  const config = withPrefix(base, prefix);
  const shown = JSON.stringify(prefix);
  const manifest = await readManifest(sessions, Buffer.from(prefix, 'utf8'));
  const secret = config.session.idSecret ? idSecretFingerprint(config.session.idSecret) : null;
  const notes: string[] = [];
  let layout: StoreLayout;
  if (manifest) {
    if (args.to !== undefined && args.to !== manifest.mode) {
      throw new Error(`--to ${args.to} contradicts store ${shown}: its manifest records ${manifest.mode} mode`);
    }
    if (manifest.mode === 'hash' && args.buckets !== undefined && args.buckets !== manifest.buckets) {
      throw new Error(
        `--buckets ${args.buckets} contradicts store ${shown}: its manifest records ${manifest.buckets} buckets`,
      );
    }
    if (manifest.keyScheme === 'custom') {
      throw new Error(
        `store ${shown} makes its keys with a custom keyGenerator (its manifest says so), which the worker cannot ` +
          "run: let the web tier's read-through (the legacy option) move the sessions",
      );
    }
    const served = servedStore(config, manifest, prefix);
    if (served.secretProblem) {
      throw new Error(`${served.secretProblem}: fix SESSION_ID_SECRET for this command, or unset it`);
    }
    if (args.to === undefined && args.buckets === undefined) notes.push(...served.differences.map(differenceMessage));
    layout = manifest;
  } else {
    const mode = args.to ?? config.session.mode;
    layout = {
      mode,
      buckets: mode === 'hash' ? (args.buckets ?? config.session.buckets) : null,
      keyScheme: secret ? 'hashed' : 'default',
      idSecret: secret,
      bucketOf: mode === 'hash' ? 'default' : null,
    };
    notes.push(
      `no manifest under ${shown} yet: moving into ${describeLayout(layout)} (from the flags and SESSION_*), ` +
        'which the migration records as the store’s layout',
    );
  }

  let fromBuckets = args.fromBuckets ?? 65536;
  if (args.from !== 'connect-redis') {
    const source = await readManifest(sessions, Buffer.from(args.fromPrefix, 'utf8'));
    if (source) {
      const from = JSON.stringify(args.fromPrefix);
      if (source.mode !== args.from) {
        throw new Error(`--from ${args.from} contradicts store ${from}: its manifest records ${source.mode} mode`);
      }
      if (source.mode === 'hash') {
        if (args.fromBuckets !== undefined && args.fromBuckets !== source.buckets) {
          throw new Error(
            `--from-buckets ${args.fromBuckets} contradicts store ${from}: its manifest records ${source.buckets} buckets`,
          );
        }
        fromBuckets = source.buckets as number;
      }
      if (source.keyScheme !== layout.keyScheme || source.idSecret !== layout.idSecret) {
        throw new Error(
          `store ${from} keys its sessions otherwise (${describeLayout(source)}) than store ${shown} ` +
            `(${describeLayout(layout)}): a session key cannot be turned into the other's, so they cannot move`,
        );
      }
    }
  }
  return {
    config,
    store: { prefix, id: manifest?.id ?? null },
    to: layout.mode,
    buckets: layout.buckets ?? args.buckets ?? config.session.buckets,
    fromBuckets,
    keyScheme: layout.keyScheme === 'hashed' ? 'hashed' : 'default',
    idSecret: layout.idSecret,
    notes,
  };
}
