import type { Queue } from 'bullmq';
import { ConfigError, type RedisClient } from 'redisession';
import { assertClient, quietQuit } from 'redisession/internal';
import { loadConfig } from './config.js';
import { openQueue, queueConnection } from './queue.js';

/*
 * `redisession-worker` (the package's main entry): what a team that already runs a queue dashboard
 * (bull-board, Taskforce.sh, their own) needs to show the cleanup queue, read from the same
 * environment as the worker.
 */

export { JOB, type SweepSummary } from './queue.js';

export interface CleanupQueue {
  /** A BullMQ Queue on the cleanup queue: hand it to BullMQAdapter. */
  queue: Queue;
  /** QUEUE_NAME and QUEUE_PREFIX, as the workers use them. */
  name: string;
  prefix: string;
  /** Closes the queue, and the connection when this function opened it. */
  close(): Promise<void>;
}

/**
 * Opens the cleanup queue the workers use: QUEUE_NAME, QUEUE_PREFIX and QUEUE_REDIS_URL (or
 * REDIS_URL) from `env` (default process.env), validated as the worker validates them. Pass
 * `connection` to reuse an ioredis client of your own (it must have maxRetriesPerRequest: null,
 * and it is left open by close()).
 */
export function openCleanupQueue(opts: { env?: NodeJS.ProcessEnv; connection?: RedisClient } = {}): CleanupQueue {
  // A typo ({ conection }) or a node-redis client would otherwise open a queue on REDIS_URL instead.
  const unknown = Object.keys(opts ?? {}).filter((k) => k !== 'env' && k !== 'connection');
  if (unknown.length > 0) {
    throw new ConfigError(`openCleanupQueue: unknown option "${unknown[0]}"; known options: env, connection`);
  }
  if (opts.connection !== undefined) {
    assertClient(
      'openCleanupQueue: "connection"',
      opts.connection,
      'an ioredis client (new Redis(url, { maxRetriesPerRequest: null }) from "ioredis"), or no connection to use QUEUE_REDIS_URL / REDIS_URL',
    );
  }
  const config = loadConfig(opts.env ?? process.env);
  const connection = opts.connection ?? queueConnection(config);
  const queue = openQueue(config, connection);
  return {
    queue,
    name: config.queue.name,
    prefix: config.queue.prefix,
    async close() {
      await queue.close();
      if (!opts.connection) await quietQuit(connection);
    },
  };
}

export type { Queue };
