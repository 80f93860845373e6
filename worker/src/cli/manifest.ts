import { describeLayout, manifestKey, readManifest, shownKey } from 'redisession/internal';
import type { CommandModule } from 'yargs';
import { configFromEnv, prefixFlag, withSessions } from './config.js';

interface ManifestArgs {
  prefix?: string;
  forget?: boolean;
  json?: boolean;
}

/** `redisession manifest`: show the layout a store recorded in Redis, or forget it (a deliberate change). */
export const manifestCommand: CommandModule<object, ManifestArgs> = {
  command: 'manifest',
  describe:
    "Show the layout the store recorded in Redis (its manifest), or --forget it so that the next web tier's " +
    'options are recorded instead (after a deliberate change of buckets, mode or idSecret)',
  builder: (y) =>
    y
      .option('prefix', { type: 'string', describe: 'store prefix (default SESSION_PREFIX)', coerce: prefixFlag })
      .option('forget', { type: 'boolean', describe: 'delete the manifest (the sessions stay)' })
      .option('json', { type: 'boolean', describe: 'print the manifest as JSON (null when there is none)' }),
  handler: async (args) => {
    const config = configFromEnv();
    const prefix = args.prefix ?? config.session.prefix;
    const key = manifestKey(Buffer.from(prefix, 'utf8'));
    await withSessions(config, async (sessions) => {
      const manifest = await readManifest(sessions, Buffer.from(prefix, 'utf8')).catch((err: Error) => {
        if (!args.forget) throw err;
        return null; // an unreadable one can still be forgotten
      });
      if (args.forget) {
        const deleted = await sessions.del(key);
        process.stderr.write(
          deleted
            ? `forgot the layout recorded for store ${JSON.stringify(prefix)} (key ${shownKey(key)}` +
                `${manifest ? `: ${describeLayout(manifest)}` : ''}); the next web tier to start records its own ` +
                'options, running ones keep what they checked until they restart\n'
            : `no manifest under ${JSON.stringify(prefix)}: nothing to forget\n`,
        );
      }
      if (args.json) {
        process.stdout.write(`${JSON.stringify(args.forget ? null : manifest)}\n`);
        return;
      }
      if (args.forget) return;
      if (!manifest) {
        process.stdout.write(
          `no manifest under ${JSON.stringify(prefix)} (key ${shownKey(key)}): the web tier records one on its first ` +
            'call; until then the worker and the CLI go by SESSION_MODE / SESSION_BUCKETS\n',
        );
        return;
      }
      const rows: Array<[string, string]> = [
        ['store', JSON.stringify(prefix)],
        ['key', shownKey(key)],
        ['layout', describeLayout(manifest)],
        ['mode', manifest.mode],
        ['buckets', manifest.buckets === null ? '-' : String(manifest.buckets)],
        ['keyScheme', manifest.keyScheme],
        ['idSecret', manifest.idSecret === null ? '-' : `fingerprint ${manifest.idSecret}`],
        ['bucketOf', manifest.bucketOf ?? '-'],
        ['codecs', [...manifest.codecs.serializers, ...manifest.codecs.compressors].join(', ')],
        ['id', manifest.id],
        ['created', `${manifest.createdAt} by ${manifest.createdBy} on ${manifest.createdOn}`],
        ['format', String(manifest.format)],
      ];
      for (const [name, value] of rows) process.stdout.write(`${name.padEnd(10)} ${value}\n`);
    });
  },
};
