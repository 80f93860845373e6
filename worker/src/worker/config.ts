import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import { SWEEP_STRATEGIES } from 'redisession';
import {
  CALL_BUDGET_US_LIMITS,
  DEFAULT_CALL_BUDGET_US,
  definedOnly,
  hasHashTag,
  MAX_BUCKETS,
} from 'redisession/internal';
import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';
import { redactUrl } from './redact.js';
import { type HostPort, parseHostPorts, type RedisTarget } from './redis-target.js';

/*
 * The worker and CLI are configured from the environment (and .env, which the CLI entry loads
 * before calling loadConfig: no file is read at import time). .env.example documents each one.
 */

export const REDIS_URL_ACCEPTED = 'a redis://, rediss:// or unix:// URL, or a socket path';
export const isRedisUrl = (v: string): boolean => /^(rediss?|unix):\/\//i.test(v) || v.startsWith('/');
const redisUrl = z.string().refine(isRedisUrl, REDIS_URL_ACCEPTED);

export const PREFIX_ACCEPTED = 'a non-empty string of at most 128 characters';

const hostPorts = z.string().transform((text, ctx) => {
  const nodes = parseHostPorts(text);
  if (!nodes) {
    ctx.addIssue({
      code: 'custom',
      message: 'a comma-separated list of host:port, such as 10.0.0.1:7000,10.0.0.2:7000',
    });
    return z.NEVER;
  }
  return nodes;
});

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `an integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `an integer from ${min} to ${max}`).max(max, `an integer from ${min} to ${max}`));

const duration = (min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === null || ms < min || ms > max) {
      ctx.addIssue({
        code: 'custom',
        message: `a duration from ${formatDuration(min)} to ${formatDuration(max)}, such as 30s, 15m, 1h`,
      });
      return z.NEVER;
    }
    return ms;
  });

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { message: 'one of true, false, on, off, 1, 0' })
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

export const CRON_ACCEPTED = 'a valid cron expression with 5 or 6 fields, such as "*/15 * * * *"';
export const TZ_ACCEPTED = 'an IANA time zone such as UTC or Europe/Paris';

/** Why cron-parser (what BullMQ uses) refuses a pattern, or null when it is fine. */
export function cronProblem(pattern: string, tz?: string): string | null {
  if (!/^\S+(\s+\S+){4,5}$/.test(pattern.trim())) return 'it needs 5 or 6 fields';
  try {
    CronExpressionParser.parse(pattern, tz ? { tz } : {});
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The bounds of every numeric setting, shared with the CLI flags that override them. */
export const LIMITS = {
  shards: [1, 1024],
  batch: [1, 10_000],
  sample: [1, MAX_BUCKETS],
  buckets: [1, MAX_BUCKETS],
  /** CLEANUP_EVERY and `schedule --every`, in ms. */
  every: [1000, 7 * 86_400_000],
} as const;

const schema = z.object({
  REDIS_URL: redisUrl.optional(),
  REDIS_CLUSTER_NODES: hostPorts.optional(),
  REDIS_SENTINELS: hostPorts.optional(),
  REDIS_SENTINEL_MASTER: z
    .string()
    .regex(/^[\w.-]{1,64}$/, 'the master name the sentinels monitor (letters, digits, _ . -)')
    .optional(),
  REDIS_USERNAME: z.string().max(256, 'at most 256 characters').optional(),
  REDIS_PASSWORD: z.string().max(1024, 'at most 1024 characters').optional(),
  REDIS_SENTINEL_PASSWORD: z.string().max(1024, 'at most 1024 characters').optional(),
  QUEUE_REDIS_URL: redisUrl.optional(),
  SESSION_MODE: z.enum(['hash', 'string'], { message: 'hash or string' }).default('hash'),
  SESSION_PREFIX: z.string().min(1, PREFIX_ACCEPTED).max(128, PREFIX_ACCEPTED).default('rs:'),
  SESSION_BUCKETS: int(...LIMITS.buckets).default(65536),
  SESSION_ID_SECRET: z.string().min(16, 'at least 16 characters, the same idSecret as the web tier').optional(),
  QUEUE_NAME: z
    .string()
    .regex(/^[\w.-]{1,64}$/, 'letters, digits, _ . - (1 to 64)')
    .optional(),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[^:\s]{1,64}$/, 'a short prefix without ":" or spaces (a hash tag such as {redisession} on a cluster)')
    .default('{redisession}'),
  CLEANUP_SCHEDULE: bool.default(true),
  CLEANUP_EVERY: duration(...LIMITS.every).optional(),
  CLEANUP_CRON: z
    .string()
    .refine((v) => cronProblem(v) === null, CRON_ACCEPTED)
    .optional(),
  CLEANUP_TZ: z.string().refine(isTimeZone, TZ_ACCEPTED).optional(),
  CLEANUP_STRATEGY: z
    .enum(SWEEP_STRATEGIES as [string, ...string[]], { message: SWEEP_STRATEGIES.join(', ') })
    .default('full'),
  CLEANUP_SHARDS: int(...LIMITS.shards).default(8),
  CLEANUP_BATCH: int(...LIMITS.batch).default(100),
  CLEANUP_SAMPLE: int(...LIMITS.sample).default(100),
  CLEANUP_GRACE: duration(0, 86_400_000).default(60_000),
  CLEANUP_ATTEMPTS: int(1, 100).default(5),
  CLEANUP_CALL_US: int(...CALL_BUDGET_US_LIMITS).default(DEFAULT_CALL_BUDGET_US),
  CLEANUP_USER_INDEX: bool.default(false),
  WORKER_CONCURRENCY: int(1, 64).default(2),
  WORKER_NICE: int(0, 19).default(10),
  WORKER_LOCK_DURATION: duration(1000, 3_600_000).default(30_000),
  WORKER_STALLED_INTERVAL: duration(500, 3_600_000).default(30_000),
  SHUTDOWN_TIMEOUT: duration(1000, 600_000).default(25_000),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'fatal, error, warn, info, debug, trace or silent',
    })
    .default('info'),
  LOG_PRETTY: bool.optional(),
  LOG_REDIS_DOWN_EVERY: duration(1000, 3_600_000).default(60_000),
  METRICS_PORT: int(1, 65535).optional(),
  METRICS_HOST: z.string().min(1, 'a host name or address').default('127.0.0.1'),
  // Set by PM2 for every instance (fork mode too): each instance serves metrics on METRICS_PORT + it.
  NODE_APP_INSTANCE: int(0, 1000).optional(),
});

type Env = z.infer<typeof schema>;

export interface WorkerConfig {
  /** The Redis holding the sessions. */
  redis: RedisTarget;
  /** The Redis holding the BullMQ queue (QUEUE_REDIS_URL, else the sessions' Redis). */
  queueRedis: RedisTarget;
  /** idSecret: the web tier's key scheme, for the jobs that write sessions (migrate); never logged. */
  session: { mode: 'hash' | 'string'; prefix: string; buckets: number; idSecret: string | null };
  /** name: QUEUE_NAME, or derived from SESSION_PREFIX when unset (`derived`: see defaultQueueName). */
  queue: { name: string; prefix: string; derived: boolean };
  schedule: { enabled: boolean; every: number | null; cron: string | null; tz: string | null };
  cleanup: {
    strategy: (typeof SWEEP_STRATEGIES)[number];
    shards: number;
    batch: number;
    sample: number;
    graceMs: number;
    attempts: number;
    /** Redis time each sweep script call should take, µs (the sweep's callBudgetUs). */
    callUs: number;
    /** Also prune the user indexes (the store's userId option) at the end of each sweep. */
    userIndex: boolean;
  };
  worker: {
    concurrency: number;
    lockDuration: number;
    stalledInterval: number;
    shutdownTimeout: number;
    /** CPU niceness the process takes at start (0: as started); never lowers one it was started with. */
    nice: number;
  };
  /**
   * pretty: null = human-readable when stdout is a terminal, JSON lines otherwise (PM2, a pipe).
   * redisDownEvery: while a Redis cannot be reached, how often to say so again after the first line.
   */
  log: { level: Env['LOG_LEVEL']; pretty: boolean | null; redisDownEvery: number };
  /** Prometheus metrics and /healthz; null port = off. */
  metrics: { port: number | null; host: string };
}

/**
 * The queue of a store when QUEUE_NAME is unset: one queue per store, so two apps on one Redis (and
 * one QUEUE_PREFIX) never take each other's requests or share a schedule. The default prefix keeps
 * the name used before stores had their own queues; others get a readable part and a hash of it.
 */
export function defaultQueueName(sessionPrefix: string): string {
  if (sessionPrefix === 'rs:') return 'redisession-cleanup';
  const readable = sessionPrefix
    .replace(/[^\w.-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 24);
  const hash = createHash('sha256').update(sessionPrefix, 'utf8').digest('hex').slice(0, 8);
  return `redisession-cleanup-${readable ? `${readable}-` : ''}${hash}`;
}

/** The configuration of the store under another prefix (migrate --prefix): its own queue unless QUEUE_NAME is set. */
export function withPrefix(config: WorkerConfig, prefix: string): WorkerConfig {
  if (prefix === config.session.prefix) return config;
  return {
    ...config,
    session: { ...config.session, prefix },
    queue: config.queue.derived ? { ...config.queue, name: defaultQueueName(prefix) } : config.queue,
  };
}

/** Thrown for a bad environment; the message names every bad variable, its value and what is accepted. */
export class EnvConfigError extends Error {
  override name = 'EnvConfigError';
}

const SECRET_VARS = new Set(['REDIS_URL', 'QUEUE_REDIS_URL']);

const PASSWORD_VARS = new Set(['REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD', 'SESSION_ID_SECRET']);

function shown(name: string, value: string | undefined): string {
  if (value === undefined) return '(unset)';
  if (PASSWORD_VARS.has(name)) return '(hidden)';
  return JSON.stringify(SECRET_VARS.has(name) ? redactUrl(value) : value);
}

/** REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER): at most one of them. */
function sessionTarget(e: Env, problems: string[]): RedisTarget {
  const set = [
    e.REDIS_URL && 'REDIS_URL',
    e.REDIS_CLUSTER_NODES && 'REDIS_CLUSTER_NODES',
    e.REDIS_SENTINELS && 'REDIS_SENTINELS',
  ].filter(Boolean);
  if (set.length > 1) problems.push(`  ${set.join(' and ')} are set together: choose one way to reach Redis`);
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) {
    problems.push(
      '  REDIS_SENTINEL_MASTER=(unset): expected the master name the sentinels monitor (REDIS_SENTINELS is set)',
    );
  }
  if (e.REDIS_SENTINEL_MASTER && !e.REDIS_SENTINELS) {
    problems.push(
      '  REDIS_SENTINELS=(unset): expected the sentinels to ask for REDIS_SENTINEL_MASTER, as host:port,...',
    );
  }
  const auth = definedOnly({ username: e.REDIS_USERNAME, password: e.REDIS_PASSWORD });
  if (e.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES as HostPort[], auth };
  if (e.REDIS_SENTINELS) {
    return {
      kind: 'sentinel',
      sentinels: e.REDIS_SENTINELS as HostPort[],
      master: e.REDIS_SENTINEL_MASTER ?? '',
      auth,
      ...definedOnly({ sentinelPassword: e.REDIS_SENTINEL_PASSWORD }),
    };
  }
  if (e.REDIS_USERNAME || e.REDIS_PASSWORD) {
    problems.push(
      '  REDIS_USERNAME/REDIS_PASSWORD are for REDIS_CLUSTER_NODES and REDIS_SENTINELS: with REDIS_URL, put them in the URL (redis://user:password@host:6379)',
    );
  }
  if (e.REDIS_SENTINEL_PASSWORD && !e.REDIS_SENTINELS) {
    problems.push('  REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS');
  }
  return { kind: 'url', url: e.REDIS_URL ?? 'redis://127.0.0.1:6379' };
}

/** Validates the environment once, at start; no side effects. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  // An empty variable means "not set", as most .env parsers and shells treat it.
  const input = Object.fromEntries(
    Object.keys(schema.shape)
      .filter((k) => env[k] !== undefined && env[k] !== '')
      .map((k) => [k, env[k]]),
  );
  const parsed = schema.safeParse(input);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      problems.push(`  ${name}=${shown(name, env[name])}: expected ${issue.message}`);
    }
    throw new EnvConfigError(`invalid configuration:\n${problems.join('\n')}`);
  }
  const e = parsed.data;
  if (e.CLEANUP_CRON && e.CLEANUP_EVERY) problems.push('  CLEANUP_EVERY and CLEANUP_CRON are both set: choose one');
  if (e.CLEANUP_TZ && !e.CLEANUP_CRON) {
    problems.push(
      `  CLEANUP_TZ=${JSON.stringify(e.CLEANUP_TZ)} applies to CLEANUP_CRON only (an interval has no time zone): ` +
        'unset it, or schedule with CLEANUP_CRON',
    );
  }
  if ((e.METRICS_PORT ?? 0) + (e.NODE_APP_INSTANCE ?? 0) > 65535) {
    problems.push(`  METRICS_PORT=${e.METRICS_PORT} + NODE_APP_INSTANCE=${e.NODE_APP_INSTANCE}: above port 65535`);
  }
  const redis = sessionTarget(e, problems);
  const queueRedis: RedisTarget = e.QUEUE_REDIS_URL ? { kind: 'url', url: e.QUEUE_REDIS_URL } : redis;
  if (queueRedis.kind === 'cluster' && !hasHashTag(e.QUEUE_PREFIX)) {
    problems.push(
      `  QUEUE_PREFIX=${JSON.stringify(e.QUEUE_PREFIX)}: expected a hash tag such as {redisession} on Redis Cluster ` +
        '(BullMQ runs multi-key scripts: every queue key must be in one slot)',
    );
  }
  if (problems.length > 0) throw new EnvConfigError(`invalid configuration:\n${problems.join('\n')}`);
  return {
    redis,
    queueRedis,
    session: {
      mode: e.SESSION_MODE,
      prefix: e.SESSION_PREFIX,
      buckets: e.SESSION_BUCKETS,
      idSecret: e.SESSION_ID_SECRET ?? null,
    },
    queue: {
      name: e.QUEUE_NAME ?? defaultQueueName(e.SESSION_PREFIX),
      prefix: e.QUEUE_PREFIX,
      derived: e.QUEUE_NAME === undefined,
    },
    schedule: {
      enabled: e.CLEANUP_SCHEDULE,
      every: e.CLEANUP_CRON ? null : (e.CLEANUP_EVERY ?? 15 * 60_000),
      cron: e.CLEANUP_CRON ?? null,
      tz: e.CLEANUP_TZ ?? null,
    },
    cleanup: {
      strategy: e.CLEANUP_STRATEGY as WorkerConfig['cleanup']['strategy'],
      shards: e.CLEANUP_SHARDS,
      batch: e.CLEANUP_BATCH,
      sample: e.CLEANUP_SAMPLE,
      graceMs: e.CLEANUP_GRACE,
      attempts: e.CLEANUP_ATTEMPTS,
      callUs: e.CLEANUP_CALL_US,
      userIndex: e.CLEANUP_USER_INDEX,
    },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      nice: e.WORKER_NICE,
      lockDuration: e.WORKER_LOCK_DURATION,
      stalledInterval: e.WORKER_STALLED_INTERVAL,
      shutdownTimeout: e.SHUTDOWN_TIMEOUT,
    },
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY ?? null, redisDownEvery: e.LOG_REDIS_DOWN_EVERY },
    metrics: {
      port: e.METRICS_PORT === undefined ? null : e.METRICS_PORT + (e.NODE_APP_INSTANCE ?? 0),
      host: e.METRICS_HOST,
    },
  };
}
