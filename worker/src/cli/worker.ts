import type { CommandModule } from 'yargs';
import { createLogger } from '../worker/logger.js';
import { lowerPriority } from '../worker/priority.js';
import { redisOrigins } from '../worker/redis-watch.js';
import { type RunningWorker, runWorker } from '../worker/run-worker.js';
import { exitOnSignals } from '../worker/shutdown.js';
import { configFromEnv, fromEnvFile } from './config.js';

/** `redisession worker`: what PM2 runs (ecosystem.config.js). */
export const workerCommand: CommandModule = {
  command: 'worker',
  describe: 'Run the cleanup worker: sweeps expired hash-mode sessions on schedule and on demand',
  builder: (y) => y,
  handler: async () => {
    const config = configFromEnv();
    const logger = createLogger(config);
    const nice = lowerPriority(config.worker.nice, logger);
    let running: RunningWorker | null = null;
    // Installed before connecting: a signal while Redis is still unreachable stops cleanly too.
    exitOnSignals(logger, config.worker.shutdownTimeout, async () => {
      await running?.close();
    });
    running = await runWorker(config, logger, { origins: redisOrigins(config, process.env, fromEnvFile), nice });
    process.send?.('ready'); // PM2 wait_ready
  },
};
