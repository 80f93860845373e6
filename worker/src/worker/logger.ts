import { type Logger, pino } from 'pino';
import type { WorkerConfig } from './config.js';

export type { Logger };

/** Fields a person reading a terminal does not need: the Redis-down lines say them in words already. */
const PRETTY_IGNORE = 'pid,hostname,redis,from,attempts,downForS';

/**
 * Newline-delimited JSON on stdout (what PM2 and log shippers want), human-readable lines when
 * stdout is a terminal; LOG_PRETTY=true/false forces either. Anything that looks like a
 * credential is redacted wherever it appears.
 */
export function createLogger(config: Pick<WorkerConfig, 'log'>, base: object = {}): Logger {
  const pretty = config.log.pretty ?? process.stdout.isTTY === true;
  return pino({
    level: config.log.level,
    base: { pid: process.pid, ...base },
    redact: {
      paths: ['password', '*.password', 'url', '*.url', 'redisUrl', '*.redisUrl', 'headers.authorization'],
      censor: '[redacted]',
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { destination: 1, ignore: PRETTY_IGNORE } } } : {}),
  });
}
