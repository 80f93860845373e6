import { existsSync } from 'node:fs';
import { EnvConfigError, loadConfig, type WorkerConfig } from '../worker/config.js';

/** Reads .env from the working directory when present (variables already set win), then validates. */
export function configFromEnv(): WorkerConfig {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof EnvConfigError) {
      process.stderr.write(`redisession: ${err.message}\nSee .env.example for every variable and its default.\n`);
      process.exit(2);
    }
    throw err;
  }
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
