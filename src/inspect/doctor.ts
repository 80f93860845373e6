import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../redis/connections.js';
import { listpackIssues } from './listpack.js';
import { type BucketsFound, measureHash, type StatsTarget } from './stats.js';

/**
 * error: something is broken or will lose data the code relies on (the doctor exits 1);
 * warn: works, but costs memory or risks a mass log-out; info / ok: for the record.
 */
export type Severity = 'ok' | 'info' | 'warn' | 'error';

export interface Finding {
  /** A stable name for the check, e.g. "server.version". */
  check: string;
  severity: Severity;
  message: string;
  /** What to change, when something should change. */
  fix?: string;
}

/** Oldest Redis the code supports: PEXPIRE ... GT on buckets (hash mode) needs 7.0. */
export const MIN_REDIS = [7, 0] as const;

function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** CONFIG GET of one setting; undefined when CONFIG is not allowed (managed Redis, ACL). */
async function configValue(client: Redis, name: string): Promise<string | undefined> {
  try {
    const reply = (await client.config('GET', name)) as unknown as string[];
    return reply[1];
  } catch {
    return undefined;
  }
}

const noConfig = (check: string, what: string): Finding => ({
  check,
  severity: 'info',
  message: `cannot read ${what} (CONFIG GET is not allowed here): check it by hand`,
});

/**
 * The server(s) behind `client`: version, eviction policy and persistence of the one server, or of
 * every master of a cluster (each labelled with its address). `holdsQueue`: BullMQ's keys live
 * there, so anything but noeviction can lose jobs.
 */
export async function serverFindings(
  client: RedisClient,
  role: { label: string; holdsQueue: boolean },
): Promise<Finding[]> {
  if (!client.isCluster) return oneServer(client as Redis, role);
  const cluster = client as Cluster;
  await cluster.ping(); // connected, slots known (or the error that says why not)
  const findings: Finding[] = [];
  for (const node of cluster.nodes('master')) {
    const label = `${role.label}[${node.options.host}:${node.options.port}]`;
    findings.push(...(await oneServer(node, { ...role, label })));
  }
  return findings;
}

async function oneServer(client: Redis, role: { label: string; holdsQueue: boolean }): Promise<Finding[]> {
  const findings: Finding[] = [];
  const check = (name: string) => `${role.label}.${name}`;
  const info = String(await client.info('server'));
  const version = infoField(info, 'redis_version') ?? '0.0.0';
  const name = infoField(info, 'server_name') ?? 'redis';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const tooOld = major < MIN_REDIS[0] || (major === MIN_REDIS[0] && minor < MIN_REDIS[1]);
  findings.push({
    check: check('version'),
    severity: tooOld ? 'error' : 'ok',
    message: `${name} ${version}${tooOld ? `: older than ${MIN_REDIS.join('.')}, which hash mode's PEXPIRE ... GT needs` : ''}`,
    ...(tooOld ? { fix: `upgrade to Redis ${MIN_REDIS.join('.')} or later` } : {}),
  });

  const policy = await configValue(client, 'maxmemory-policy');
  if (policy === undefined) findings.push(noConfig(check('maxmemory-policy'), 'maxmemory-policy'));
  else if (policy === 'noeviction') {
    findings.push({ check: check('maxmemory-policy'), severity: 'ok', message: 'maxmemory-policy noeviction' });
  } else if (role.holdsQueue) {
    findings.push({
      check: check('maxmemory-policy'),
      severity: 'error',
      message: `maxmemory-policy ${policy}: Redis may evict BullMQ's keys (jobs, locks, the schedule) when memory runs out`,
      fix: 'CONFIG SET maxmemory-policy noeviction (and in redis.conf), or move the queue to its own Redis with QUEUE_REDIS_URL',
    });
  } else {
    findings.push({
      check: check('maxmemory-policy'),
      severity: 'info',
      message: `maxmemory-policy ${policy}: when memory runs out, Redis evicts sessions (their users are logged out)`,
    });
  }

  const appendonly = await configValue(client, 'appendonly');
  const save = await configValue(client, 'save');
  if (appendonly === undefined || save === undefined) {
    findings.push(noConfig(check('persistence'), 'appendonly / save'));
  } else if (appendonly !== 'yes' && save.trim() === '') {
    findings.push({
      check: check('persistence'),
      severity: 'warn',
      message: `no persistence (appendonly no, save ""): a restart loses every session, logging everyone out${role.holdsQueue ? ', and every queued job' : ''}`,
      fix: 'CONFIG SET appendonly yes (and appendonly yes in redis.conf), or RDB snapshots with save, e.g. save "3600 1 300 100"',
    });
  } else {
    const how = [appendonly === 'yes' ? 'AOF' : '', save.trim() ? `RDB (save ${save})` : ''].filter(Boolean);
    findings.push({ check: check('persistence'), severity: 'ok', message: `persistence: ${how.join(' + ')}` });
  }
  return findings;
}

/**
 * A hash-mode store as it is: entry sizes and bucket fill against the listpack limits, and bucket
 * encodings (what `redisession stats` measures, on a sample of buckets). `found`: the buckets a whole walk of the prefix
 * found (the layout check's), so that hashStats does not walk it again.
 */
export async function storeFindings(target: StatsTarget, sample = 256, found?: BucketsFound): Promise<Finding[]> {
  const stats = await measureHash(target, { sample, exact: false, ...(found ? { found } : {}) });
  const prefix = target.prefix.toString();
  if (stats.bucketsInUse === 0) {
    return [
      {
        check: 'store.sessions',
        severity: 'info',
        message: `no sessions found under prefix ${JSON.stringify(prefix)} (${stats.sampledBuckets} buckets looked at): size checks skipped`,
        fix: 'if the web tier has sessions, make SESSION_PREFIX and SESSION_BUCKETS match its store options',
      },
    ];
  }
  const issues = listpackIssues(stats);
  const findings: Finding[] = [
    {
      check: 'store.sessions',
      severity: 'ok',
      message:
        `about ${stats.sessions} sessions in ${stats.bucketsInUse} buckets under ${JSON.stringify(prefix)}` +
        `${stats.exact ? '' : ` (estimated from ${stats.sampledBuckets} buckets)`}, ${stats.bytesPerSession} bytes each; ` +
        `serializers seen: ${Object.entries(stats.entries.serializers)
          .map(([name, n]) => `${name} ${n}`)
          .join(', ')}`,
    },
  ];
  const e = stats.entries;
  const ok: Record<string, string> = {
    'listpack-value': stats.limits
      ? `largest stored session seen ${e.maxValueBytes} bytes, within hash-max-listpack-value ${stats.limits.value}`
      : 'hash-max-listpack-value unknown (CONFIG GET not allowed): see the encodings',
    'listpack-field': stats.limits
      ? `longest session key seen ${e.maxFieldBytes} bytes, within hash-max-listpack-value ${stats.limits.value}`
      : 'hash-max-listpack-value unknown (CONFIG GET not allowed): see the encodings',
    'listpack-entries': stats.limits
      ? `at most ${e.maxFieldsPerBucket} sessions in a bucket, within hash-max-listpack-entries ${stats.limits.entries}`
      : 'hash-max-listpack-entries unknown (CONFIG GET not allowed): see the encodings',
    encoding: `buckets seen: ${Object.entries(stats.encodings)
      .map(([enc, n]) => `${n} ${enc}`)
      .join(', ')}`,
  };
  for (const [check, message] of Object.entries(ok)) {
    const issue = issues.find((i) => i.check === check);
    findings.push(
      issue
        ? { check: `store.${check}`, severity: 'warn', message: issue.problem, fix: issue.fix }
        : { check: `store.${check}`, severity: stats.limits || check === 'encoding' ? 'ok' : 'info', message },
    );
  }
  return findings;
}
