import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis/connections.js';
import { quietQuit } from '../redis/connections.js';
import { loadConfig } from './config.js';
import { openQueue, queueConnection } from './queue.js';

/*
 * `redisession/worker`: what a team that already runs a queue dashboard (bull-board, Taskforce.sh,
 * their own) needs to show the cleanup queue, read from the same environment as the worker.
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
