#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { cleanupCommand } from './cleanup.js';
import { UsageError } from './config.js';
import { doctorCommand } from './doctor.js';
import { manifestCommand } from './manifest.js';
import { migrateCommand } from './migrate.js';
import { scheduleCommand } from './schedule.js';
import { statsCommand } from './stats.js';
import { workerCommand } from './worker.js';

/** `redisession <command>`: one file per command next to this one. Configuration: see .env.example. */
export async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('redisession')
    .command(workerCommand)
    .command(cleanupCommand)
    .command(scheduleCommand)
    .command(statsCommand)
    .command(doctorCommand)
    .command(migrateCommand)
    .command(manifestCommand)
    .demandCommand(1, 'Name a command (see --help).')
    .strict()
    .help()
    .version()
    .fail((msg, err) => {
      // msg or a UsageError: bad usage (exit 2, with a pointer to --help); else the command failed (exit 1)
      const usage = msg || (err instanceof UsageError ? err.message : null);
      process.stderr.write(
        usage ? `redisession: ${usage}\nRun redisession --help for usage.\n` : `redisession: ${err?.message}\n`,
      );
      process.exit(usage ? 2 : 1);
    })
    .parseAsync();
}

await main(hideBin(process.argv));
