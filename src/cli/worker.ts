import type { CommandModule } from 'yargs';
import { createLogger } from '../worker/logger.js';
import { runWorker } from '../worker/run-worker.js';
import { exitOnSignals } from '../worker/shutdown.js';
import { configFromEnv } from './config.js';

/** `redisession worker`: what PM2 runs (ecosystem.config.js). */
export const workerCommand: CommandModule = {
  command: 'worker',
  describe: 'Run the cleanup worker: sweeps expired hash-mode sessions on schedule and on demand',
  builder: (y) => y,
  handler: async () => {
    const config = configFromEnv();
    const logger = createLogger(config);
    const running = await runWorker(config, logger);
    exitOnSignals(logger, config.worker.shutdownTimeout, () => running.close());
    process.send?.('ready'); // PM2 wait_ready
  },
};
