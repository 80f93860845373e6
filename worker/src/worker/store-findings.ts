import { LayoutMismatchError, type RedisClient } from 'redisession';
import {
  BucketsFound,
  bucketIndexOf,
  bucketWidth,
  describeLayout,
  type Finding,
  isDefaultKey,
  isManifestKey,
  MAX_BUCKETS,
  type Severity,
  scanPrefixPages,
} from 'redisession/internal';
import type { WorkerConfig } from './config.js';
import { differenceMessage, resolveStore, type ServedStore } from './served-store.js';

/*
 * The doctor's checks of the store's layout: its manifest against the environment, and the keys
 * under the prefix against the layout (a pre-manifest store with the wrong SESSION_BUCKETS shows
 * here too: bucket keys beyond the bucket count).
 */

/** Keys a layout check looks at, at most: a bounded walk, not a full SCAN of a big keyspace. */
const SURVEY_KEYS = 50_000;

/** What the keys under a prefix say about its layout. */
export interface LayoutSurvey {
  /** Keys looked at (stops at SURVEY_KEYS). */
  keys: number;
  complete: boolean;
  /** Numbered bucket keys found, by byte width of the index (1, 2 or 3). */
  bucketsByWidth: Record<number, number>;
  /** The highest bucket index seen, of the width the layout expects. */
  maxIndex: number | null;
  /** Bucket keys that do not fit `buckets` (another width, or an index past the count). */
  outside: number;
  /** String keys that look like default-keyed string-mode sessions. */
  stringSessions: number;
  /** The bucket keys, for the store checks (hashStats), once every hash under the prefix was looked at. */
  found: BucketsFound | null;
}

export async function surveyLayout(client: RedisClient, prefix: Buffer, buckets: number): Promise<LayoutSurvey> {
  const width = bucketWidth(buckets);
  const found = new BucketsFound({ prefix, buckets });
  const s: LayoutSurvey = {
    keys: 0,
    complete: true,
    bucketsByWidth: {},
    maxIndex: null,
    outside: 0,
    stringSessions: 0,
    found: null,
  };
  for (const type of ['hash', 'string'] as const) {
    for await (const page of scanPrefixPages(client, prefix, type, 1000)) {
      for (const key of page.keys) {
        s.keys++;
        if (type === 'hash') found.add(key);
        if (isManifestKey(key, prefix)) continue;
        const rest = key.subarray(prefix.length);
        if (type === 'string') {
          if (isDefaultKey(rest)) s.stringSessions++;
          continue;
        }
        if (rest[0] !== 0x00 || rest.length < 2 || rest.length > 4) continue; // not a numbered bucket
        const w = rest.length - 1;
        s.bucketsByWidth[w] = (s.bucketsByWidth[w] ?? 0) + 1;
        if (w !== width) {
          s.outside++;
          continue;
        }
        const index = bucketIndexOf(key, prefix, width, MAX_BUCKETS);
        if (index === null) continue;
        s.maxIndex = Math.max(s.maxIndex ?? 0, index);
        if (index >= buckets) s.outside++;
      }
      if (s.keys >= SURVEY_KEYS) {
        s.complete = false;
        return s;
      }
    }
    if (type === 'hash') s.found = found;
  }
  return s;
}

const worst = (a: Severity, b: Severity): Severity => {
  const rank: Severity[] = ['ok', 'info', 'warn', 'error'];
  return rank.indexOf(a) >= rank.indexOf(b) ? a : b;
};

/**
 * store.manifest: is there one, does the environment agree (SESSION_MODE, SESSION_BUCKETS,
 * SESSION_ID_SECRET); store.layout: do the keys under the prefix fit the layout. Also returns the
 * store as the worker would serve it, for the other checks.
 */
export async function storeLayoutFindings(
  config: WorkerConfig,
  sessions: RedisClient,
): Promise<{ findings: Finding[]; served: ServedStore | null; survey: LayoutSurvey | null }> {
  const findings: Finding[] = [];
  const prefix = Buffer.from(config.session.prefix, 'utf8');
  const shown = JSON.stringify(config.session.prefix);
  let served: ServedStore;
  try {
    served = await resolveStore(config, sessions);
  } catch (err) {
    if (!(err instanceof LayoutMismatchError)) throw err;
    findings.push({ check: 'store.manifest', severity: 'error', message: err.message });
    return { findings, served: null, survey: null };
  }
  const m = served.manifest;
  const survey =
    served.layout.mode === 'hash' ? await surveyLayout(sessions, prefix, served.layout.buckets as number) : null;
  const hasData = survey !== null && (Object.keys(survey.bucketsByWidth).length > 0 || survey.stringSessions > 0);

  if (!m) {
    findings.push(
      hasData
        ? {
            check: 'store.manifest',
            severity: 'warn',
            message:
              `no manifest under prefix ${shown}, but sessions are there: a store written before manifests (or by an ` +
              'older web tier); the worker and CLI go by SESSION_MODE / SESSION_BUCKETS until the web tier records it',
            fix: 'upgrade the web tier: its first call records the layout (its own options)',
          }
        : {
            check: 'store.manifest',
            severity: 'info',
            message: `no manifest and no sessions under prefix ${shown}: the web tier records the layout on its first call`,
            fix: 'if the web tier has sessions, make SESSION_PREFIX match its prefix option',
          },
    );
  } else {
    let severity: Severity = 'ok';
    const said: string[] = [];
    const fixes: string[] = [];
    for (const d of served.differences) {
      severity = worst(severity, 'warn');
      said.push(differenceMessage(d));
      fixes.push(`${d.variable}=${d.manifest}`);
    }
    if (served.secretProblem) {
      severity = worst(severity, 'error');
      said.push(`${served.secretProblem}: the worker refuses to start, migrate is refused`);
      fixes.push("SESSION_ID_SECRET = the web tier's idSecret (or unset it: sweeps need none)");
    } else if (m.keyScheme === 'hashed' && config.session.idSecret === null) {
      severity = worst(severity, 'info');
      said.push(
        `ids are hashed with idSecret ${m.idSecret} and SESSION_ID_SECRET is unset: sweeps work, migrate is refused`,
      );
    } else if (m.keyScheme === 'custom') {
      severity = worst(severity, 'info');
      said.push('keys come from a custom keyGenerator: sweeps work, migrate cannot derive keys');
    }
    findings.push({
      check: 'store.manifest',
      severity,
      message:
        `${said.length > 0 ? `${said.join('; ')}. ` : ''}Layout recorded ${m.createdAt} by ${m.createdBy} on ` +
        `${m.createdOn}: ${describeLayout(m)}; codecs written: ${[...m.codecs.serializers, ...m.codecs.compressors].join(', ')}`,
      ...(fixes.length > 0 ? { fix: `set ${fixes.join(', ')} (the worker's .env)` } : {}),
    });
  }

  if (survey) {
    const looked = `${survey.keys}${survey.complete ? '' : '+'} keys looked at`;
    findings.push(
      survey.outside > 0
        ? {
            check: 'store.layout',
            severity: 'error',
            message:
              `${survey.outside} bucket keys under ${shown} lie outside ${served.layout.buckets} buckets ` +
              `(index widths seen: ${Object.keys(survey.bucketsByWidth).join(', ')} bytes; ${looked}): the sessions ` +
              'in them were written with more buckets, and nothing with this layout sweeps or counts them',
            fix: m
              ? 'the web tier that wrote them used another buckets option: find which, and move them (migrate --from hash)'
              : 'set SESSION_BUCKETS to the web tier’s buckets option',
          }
        : {
            check: 'store.layout',
            severity: 'ok',
            message: `every bucket key under ${shown} fits ${served.layout.buckets} buckets (${looked})`,
          },
    );
  }
  return { findings, served, survey };
}
