import { existsSync } from 'node:fs';
import type { RedisClient } from 'redisession';
import { quietQuit } from 'redisession/internal';
import {
  EnvConfigError,
  isRedisUrl,
  loadConfig,
  PREFIX_ACCEPTED,
  REDIS_URL_ACCEPTED,
  type WorkerConfig,
} from '../worker/config.js';
import { EnvFileError, loadEnvFile } from '../worker/env-file.js';
import { redactUrl } from '../worker/redact.js';
import { describeTarget, type RedisTarget, sessionClient } from '../worker/redis-target.js';

/** The variables configFromEnv took from .env (the others came from the environment, or are unset). */
export const fromEnvFile = new Set<string>();

/** Reads .env from the working directory when present (variables already set win), then validates. */
export function configFromEnv(): WorkerConfig {
  try {
    if (existsSync('.env')) for (const name of loadEnvFile('.env')) fromEnvFile.add(name);
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof EnvConfigError || err instanceof EnvFileError) {
      process.stderr.write(`redisession: ${err.message}\nSee .env.example for every variable and its default.\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * Bad arguments found once the command runs (they depend on the configuration): exit 2, as for
 * the flags yargs refuses itself.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * A yargs coerce for whole-number flags with the same bounds as their environment variables; the
 * message names the flag, the value and the accepted range.
 */
export const boundedInt =
  (name: string, min: number, max: number) =>
  (value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    const text = String(value);
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      throw new Error(`--${name} must be a whole number from ${min} to ${max}; got ${JSON.stringify(text)}`);
    }
    return n;
  };

/** A yargs coerce for --redis: what REDIS_URL accepts (the value shown without its password). */
export function redisUrlFlag(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!isRedisUrl(text))
    throw new Error(`--redis must be ${REDIS_URL_ACCEPTED}; got ${JSON.stringify(redactUrl(text))}`);
  return text;
}

/** A yargs coerce for a prefix flag: what SESSION_PREFIX accepts (an empty one would reach every key). */
export const prefixFlagNamed =
  (name: string) =>
  (value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    const text = String(value);
    if (text.length === 0 || text.length > 128) {
      throw new Error(`--${name} must be ${PREFIX_ACCEPTED}; got ${JSON.stringify(text.slice(0, 60))}`);
    }
    return text;
  };

/** --prefix: the store's prefix. */
export const prefixFlag = prefixFlagNamed('prefix');

/**
 * A client for the sessions' Redis, and the last connection error it reported: the real cause
 * (ECONNREFUSED, WRONGPASS) behind a command's bare "max retries" or "connection is closed".
 */
export function watchedSessionClient(target: RedisTarget): { client: RedisClient; lastError: () => Error | null } {
  const client = sessionClient(target);
  let last: Error | null = null;
  client.on('error', (err: Error) => {
    last = err;
  });
  return { client, lastError: () => last };
}

/**
 * Runs `fn` with a client for the sessions' Redis (REDIS_URL, ...), closed afterwards; a Redis that
 * cannot be reached is an error naming it (password hidden), not ioredis's bare "max retries".
 */
export async function withSessions<T>(config: WorkerConfig, fn: (sessions: RedisClient) => Promise<T>): Promise<T> {
  const { client: sessions, lastError } = watchedSessionClient(config.redis);
  try {
    return await fn(sessions);
  } catch (err) {
    const unreachable = /max retries|connection is closed|timed out/i.test((err as Error).message);
    const cause = lastError();
    if (cause === null || !unreachable) throw err;
    throw new Error(`cannot reach Redis at ${describeTarget(config.redis)}: ${cause.message}`);
  } finally {
    await quietQuit(sessions);
  }
}
