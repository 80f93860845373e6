import { quietQuit } from 'redisession/internal';
import type { CommandModule } from 'yargs';
import { CRON_ACCEPTED, cronProblem, isTimeZone, LIMITS, TZ_ACCEPTED } from '../worker/config.js';
import { formatDuration, parseDuration } from '../worker/duration.js';
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
  describe:
    'Show the repeatable sweep, or set it (--every / --cron) or remove it (--remove). Workers apply ' +
    'CLEANUP_EVERY / CLEANUP_CRON / CLEANUP_SCHEDULE again whenever they start, so make lasting changes there.',
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
        // the bounds of CLEANUP_EVERY: BullMQ cannot date a run past year 275760 ("Invalid time value")
        const [min, max] = LIMITS.every;
        const every = a.every === undefined ? null : parseDuration(a.every);
        if (a.every !== undefined && (every === null || every < min || every > max)) {
          throw new Error(
            `--every must be a duration from ${formatDuration(min)} to ${formatDuration(max)}, such as 30s, 15m or 1h; ` +
              `got ${JSON.stringify(a.every)}`,
          );
        }
        if (a.tz !== undefined && !isTimeZone(a.tz)) {
          throw new Error(`--tz must be ${TZ_ACCEPTED}; got ${JSON.stringify(a.tz)}`);
        }
        const problem = a.cron === undefined ? null : cronProblem(a.cron, a.tz);
        if (problem) throw new Error(`--cron must be ${CRON_ACCEPTED}; got ${JSON.stringify(a.cron)} (${problem})`);
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
        await upsertSchedule(
          queue,
          {
            every: args.every !== undefined ? parseDuration(args.every) : null,
            cron: args.cron ?? null,
            tz: args.tz ?? null,
          },
          { prefix: config.session.prefix, id: null }, // the store whose queue this is
        );
      }
      const info = await showSchedule(queue);
      if (args.json) process.stdout.write(`${JSON.stringify(info)}\n`);
      else if (!info) process.stdout.write('no repeatable sweep\n');
      else {
        const when = info.cron ? `cron "${info.cron}"${info.tz ? ` (${info.tz})` : ''}` : `every ${info.every}`;
        process.stdout.write(`repeatable sweep: ${when}; next run ${info.next ?? 'unknown'}\n`);
      }
      if (!args.json && (args.remove || args.every !== undefined || args.cron !== undefined)) {
        process.stderr.write('note: a worker that starts applies its own CLEANUP_* settings again\n');
      }
    } finally {
      await queue.close();
      await quietQuit(connection);
    }
  },
};
