import { type Logger, pino } from 'pino';
import type { WorkerConfig } from './config.js';

export type { Logger };

/**
 * Newline-delimited JSON on stdout (what PM2 and log shippers want); pretty only with
 * LOG_PRETTY=true. Anything that looks like a credential is redacted wherever it appears.
 */
export function createLogger(config: Pick<WorkerConfig, 'log'>, base: object = {}): Logger {
  return pino({
    level: config.log.level,
    base: { pid: process.pid, ...base },
    redact: {
      paths: ['password', '*.password', 'url', '*.url', 'redisUrl', '*.redisUrl', 'headers.authorization'],
      censor: '[redacted]',
    },
    ...(config.log.pretty ? { transport: { target: 'pino-pretty', options: { destination: 1 } } } : {}),
  });
}
