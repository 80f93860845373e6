import type { CommandModule } from 'yargs';
import { parseDuration } from '../worker/duration.js';
import { connectQueue, openQueue } from '../worker/queue.js';
import { removeSchedule, showSchedule, upsertSchedule } from '../worker/schedule.js';
import { configFromEnv } from './config.js';

interface ScheduleArgs {
  every?: string;
  cron?: string;
  tz?: string;
  remove?: boolean;
  json?: boolean;
}

/** `redisession schedule`: show, set or remove the repeatable sweep. */
export const scheduleCommand: CommandModule<object, ScheduleArgs> = {
  command: 'schedule',
  describe: 'Show the repeatable sweep, or set it (--every / --cron) or remove it (--remove)',
  builder: (y) =>
    y
      .option('every', { type: 'string', describe: 'run every duration, e.g. 15m, 1h' })
      .option('cron', { type: 'string', describe: 'run on a cron pattern, e.g. "*/15 * * * *"' })
      .option('tz', { type: 'string', describe: 'time zone for --cron, e.g. Europe/Paris' })
      .option('remove', { type: 'boolean', describe: 'remove the repeatable sweep' })
      .option('json', { type: 'boolean', describe: 'print the schedule as JSON' })
      .conflicts('every', ['cron', 'remove'])
      .conflicts('cron', 'remove')
      .implies('tz', 'cron')
      .check((a) => {
        if (a.every !== undefined && (parseDuration(a.every) ?? 0) < 1000) {
          throw new Error(
            `--every must be a duration of at least 1s, such as 30s, 15m or 1h; got ${JSON.stringify(a.every)}`,
          );
        }
        if (a.cron !== undefined && !/^\S+(\s+\S+){4,5}$/.test(a.cron)) {
          throw new Error(`--cron must have 5 or 6 fields, such as "*/15 * * * *"; got ${JSON.stringify(a.cron)}`);
        }
        return true;
      }),
  handler: async (args) => {
    const config = configFromEnv();
    const connection = await connectQueue(config);
    const queue = openQueue(config, connection);
    try {
      if (args.remove) {
        const removed = await removeSchedule(queue);
        process.stderr.write(removed ? 'repeatable sweep removed\n' : 'there was no repeatable sweep\n');
      } else if (args.every !== undefined || args.cron !== undefined) {
        await upsertSchedule(queue, {
          every: args.every !== undefined ? parseDuration(args.every) : null,
          cron: args.cron ?? null,
          tz: args.tz ?? null,
        });
      }
      const info = await showSchedule(queue);
      if (args.json) process.stdout.write(`${JSON.stringify(info)}\n`);
      else if (!info) process.stdout.write('no repeatable sweep\n');
      else {
        const when = info.cron ? `cron "${info.cron}"${info.tz ? ` (${info.tz})` : ''}` : `every ${info.every}`;
        process.stdout.write(`repeatable sweep: ${when}; next run ${info.next ?? 'unknown'}\n`);
      }
    } finally {
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
    }
  },
};
