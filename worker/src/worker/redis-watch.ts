import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from 'redisession';
import type { WorkerConfig } from './config.js';
import { formatDuration } from './duration.js';
import type { Logger } from './logger.js';
import { describeTarget, type RedisTarget } from './redis-target.js';

/*
 * What the worker says while a Redis cannot be reached. ioredis retries every 50 ms to 2 s for
 * ever, which is right under PM2 (the worker must come up once Redis does), but an 'error' event
 * per retry buried a newcomer's first `npm start` under identical JSON lines. Instead: one line at
 * the first failure that names the Redis, where its address came from and what to do; a short
 * reminder every LOG_REDIS_DOWN_EVERY; one line when it answers again.
 */

/** A server that accepts the connection but has not answered the ready check by then is "not answering". */
export const NO_ANSWER_MS = 3000;

/** Where a Redis address came from, for the first-failure line. */
export interface RedisOrigin {
  /** The variable that names it: REDIS_URL, QUEUE_REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS. */
  variable: string;
  /** "REDIS_URL in .env", "REDIS_URL in the environment", "the default: REDIS_URL is not set". */
  from: string;
}

/** Which variable set each Redis, and whether it came from the environment, .env, or nowhere. */
export function redisOrigins(
  config: WorkerConfig,
  env: NodeJS.ProcessEnv,
  fromEnvFile: ReadonlySet<string> = new Set(),
): { sessions: RedisOrigin; queue: RedisOrigin } {
  const origin = (variable: string): RedisOrigin => ({
    variable,
    from: env[variable]
      ? `${variable} in ${fromEnvFile.has(variable) ? '.env' : 'the environment'}`
      : `the default: ${variable} is not set`,
  });
  const byKind: Record<RedisTarget['kind'], string> = {
    url: 'REDIS_URL',
    cluster: 'REDIS_CLUSTER_NODES',
    sentinel: 'REDIS_SENTINELS',
  };
  const sessions = origin(byKind[config.redis.kind]);
  return { sessions, queue: env.QUEUE_REDIS_URL ? origin('QUEUE_REDIS_URL') : sessions };
}

export interface WatchedRedis {
  /** How the lines name it: "Redis", or "the queue's Redis" when sessions and queue live apart. */
  name: string;
  target: RedisTarget;
  origin: RedisOrigin;
}

// The worker package's .env.example (beside its dist/ and src/), and whether this is a clone of
// the repository (where `npm run demo` exists) rather than an installed package.
const ENV_EXAMPLE = fileURLToPath(new URL('../../.env.example', import.meta.url));
const IN_CLONE = existsSync(fileURLToPath(new URL('../../../scripts/demo.mjs', import.meta.url)));

function advice({ target, origin }: WatchedRedis): string {
  const where = target.kind === 'url' ? `start Redis there or set ${origin.variable}` : `check ${origin.variable}`;
  const shown = relative(process.cwd(), ENV_EXAMPLE);
  const example = shown.startsWith('..') ? ENV_EXAMPLE : shown;
  const demo = IN_CLONE ? ', or run `npm run demo` to try redisession on a private Redis' : '';
  return `${where} (see ${example} for every setting)${demo}`;
}

/**
 * Reports the outages of `clients` (connections to one Redis) through `logger` until stop() is
 * called. `repeatMs` is LOG_REDIS_DOWN_EVERY.
 */
export function watchRedis(
  clients: RedisClient[],
  what: WatchedRedis,
  logger: Logger,
  repeatMs: number,
): { stop(): void } {
  const shown = describeTarget(what.target);
  const fields = { redis: shown, from: what.origin.from };
  let down: { since: number; attempts: number; reason: string; timer: NodeJS.Timeout } | null = null;
  const noAnswer = new Map<RedisClient, NodeJS.Timeout>();

  const failed = (reason: string) => {
    if (down) {
      down.attempts++;
      down.reason = reason;
      return;
    }
    const timer = setInterval(() => {
      if (!down) return;
      const s = Math.round((Date.now() - down.since) / 1000);
      logger.warn(
        { ...fields, attempts: down.attempts, downForS: s, err: down.reason },
        `still cannot reach ${what.name} at ${shown} after ${down.attempts} attempts in ${s} s (${down.reason}); retrying`,
      );
    }, repeatMs);
    timer.unref();
    down = { since: Date.now(), attempts: 1, reason, timer };
    logger.warn(
      { ...fields, err: reason },
      `cannot reach ${what.name} at ${shown} (${what.origin.from}): ${reason}. To fix: ${advice(what)}. ` +
        `Retrying, and saying so every ${formatDuration(repeatMs)} until it answers`,
    );
  };
  const ready = (client: RedisClient) => {
    clearTimeout(noAnswer.get(client));
    noAnswer.delete(client);
    if (!down || clients.some((c) => c.status !== 'ready')) return;
    const s = Math.round((Date.now() - down.since) / 1000);
    logger.info(
      { ...fields, attempts: down.attempts, downForS: s },
      `connected to ${what.name} at ${shown} after ${s} s`,
    );
    clearInterval(down.timer);
    down = null;
  };
  const listeners = clients.map((client) => {
    const onError = (err: Error) => failed(err.message);
    // connected, but the ready check (INFO) gets no answer: a stopped or swamped server sends no error
    const onConnect = () => {
      clearTimeout(noAnswer.get(client));
      const timer = setTimeout(() => {
        if (client.status !== 'ready')
          failed(
            `no answer in ${NO_ANSWER_MS / 1000} s (the server accepts connections but does not reply: stopped, overloaded, or not Redis?)`,
          );
      }, NO_ANSWER_MS);
      timer.unref();
      noAnswer.set(client, timer);
    };
    const onReady = () => ready(client);
    client.on('error', () => {}); // stays after stop(): an error while closing is no 'Unhandled error event'
    client.on('error', onError);
    client.on('connect', onConnect);
    client.on('ready', onReady);
    return () => {
      client.off('error', onError);
      client.off('connect', onConnect);
      client.off('ready', onReady);
    };
  });
  return {
    stop() {
      for (const off of listeners) off();
      for (const t of noAnswer.values()) clearTimeout(t);
      if (down) clearInterval(down.timer);
    },
  };
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

/**
 * Whether an error only says a connection is down (BullMQ's worker, queue and flow producer emit
 * one per retry of their own connections): watchRedis already reports the outage.
 */
export function isConnectionError(err: Error & { code?: string }): boolean {
  // "Failed to add repeatable job for next iteration: Connection is closed" ends the schedule: not this
  if (/^Failed to add repeatable job/.test(err.message)) return false;
  return CONNECTION_CODES.has(err.code ?? '') || /^(Connection is closed|Command timed out)/.test(err.message);
}

/** Resolves once every client is ready (the watcher says what is going on meanwhile). */
export function allReady(clients: RedisClient[]): Promise<void> {
  return Promise.all(
    clients.map((c) =>
      c.status === 'ready' ? undefined : new Promise<void>((resolve) => c.once('ready', () => resolve())),
    ),
  ).then(() => undefined);
}
