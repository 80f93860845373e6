import { describe, expect, it } from 'vitest';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';

/*
 * Every bad environment variable and every bad flag gets a message that names it, shows the value
 * (without a password) and says what is accepted, with exit code 2, before anything connects.
 */

/** One bad value for every variable the worker and the CLI read, and what the message must say. */
const BAD_ENV: Array<[string, string, string]> = [
  ['REDIS_URL', 'default:hunter2@localhost:6379', 'a redis://, rediss:// or unix:// URL, or a socket path'],
  ['REDIS_CLUSTER_NODES', 'node1', 'a comma-separated list of host:port, such as 10.0.0.1:7000,10.0.0.2:7000'],
  ['REDIS_SENTINELS', 'a:b', 'a comma-separated list of host:port'],
  ['REDIS_SENTINEL_MASTER', 'my master', 'the master name the sentinels monitor (letters, digits, _ . -)'],
  ['REDIS_USERNAME', 'u'.repeat(257), 'at most 256 characters'],
  ['REDIS_PASSWORD', `hunter2${'p'.repeat(1020)}`, 'at most 1024 characters'],
  ['REDIS_SENTINEL_PASSWORD', `hunter2${'s'.repeat(1020)}`, 'at most 1024 characters'],
  ['QUEUE_REDIS_URL', 'http://localhost:6379/0', 'a redis://, rediss:// or unix:// URL, or a socket path'],
  ['SESSION_MODE', 'list', 'hash or string'],
  ['SESSION_PREFIX', 'p'.repeat(129), 'a non-empty string of at most 128 characters'],
  ['SESSION_BUCKETS', '0', 'an integer from 1 to 16777216'],
  ['QUEUE_NAME', 'my queue', 'letters, digits, _ . - (1 to 64)'],
  ['QUEUE_PREFIX', 'bull:x', 'a short prefix without ":" or spaces'],
  ['CLEANUP_SCHEDULE', 'maybe', 'one of true, false, on, off, 1, 0'],
  ['CLEANUP_EVERY', 'often', 'a duration from 1s to 7d'],
  ['CLEANUP_CRON', '99 * * * *', 'a valid cron expression with 5 or 6 fields'],
  ['CLEANUP_TZ', 'Mars/Olympus', 'an IANA time zone'],
  ['CLEANUP_STRATEGY', 'all', 'full, sample, existing'],
  ['CLEANUP_SHARDS', 'many', 'an integer from 1 to 1024'],
  ['CLEANUP_BATCH', '0', 'an integer from 1 to 10000'],
  ['CLEANUP_SAMPLE', '-5', 'an integer from 1 to 16777216'],
  ['CLEANUP_GRACE', '2d', 'a duration from 0ms to 1d'],
  ['CLEANUP_ATTEMPTS', '101', 'an integer from 1 to 100'],
  ['CLEANUP_CALL_US', '5', 'an integer from 10 to 100000'],
  ['WORKER_CONCURRENCY', '1.5', 'an integer from 1 to 64'],
  ['WORKER_NICE', '20', 'an integer from 0 to 19'],
  ['WORKER_LOCK_DURATION', '10ms', 'a duration from 1s to 1h'],
  ['WORKER_STALLED_INTERVAL', 'soon', 'a duration from 500ms to 1h'],
  ['SHUTDOWN_TIMEOUT', '1h', 'a duration from 1s to 10m'],
  ['LOG_LEVEL', 'loud', 'fatal, error, warn, info, debug, trace or silent'],
  ['LOG_PRETTY', 'sometimes', 'one of true, false, on, off, 1, 0'],
  ['LOG_REDIS_DOWN_EVERY', 'often', 'a duration from 1s to 1h'],
  ['CLEANUP_USER_INDEX', 'yes please', 'one of true, false, on, off, 1, 0'],
  ['METRICS_PORT', '70000', 'an integer from 1 to 65535'],
  ['NODE_APP_INSTANCE', '-1', 'an integer from 0 to 1000'],
  ['SESSION_ID_SECRET', 'hunter2-short', 'at least 16 characters, the same idSecret as the web tier'],
];

/** Bad flags, and what the message must say (the flag's name and what it accepts). */
const BAD_FLAGS: Array<[string[], RegExp]> = [
  [['cleanup', '--strategy', 'all'], /strategy.*"all".*"full", "sample", "existing"/s],
  [['cleanup', '--shards', '0'], /--shards must be a whole number from 1 to 1024; got "0"/],
  [['cleanup', '--shards', 'x'], /--shards must be a whole number from 1 to 1024; got "x"/],
  [['cleanup', '--batch', '100000'], /--batch must be a whole number from 1 to 10000; got "100000"/],
  [['cleanup', '--sample', '0'], /--sample must be a whole number from 1 to 16777216; got "0"/],
  [['cleanup', '--bogus'], /Unknown argument: bogus/],
  [['schedule', '--every', '15m', '--cron', '* * * * *'], /Arguments every and cron are mutually exclusive/],
  [['schedule', '--every', '1h', '--remove'], /Arguments every and remove are mutually exclusive/],
  [['schedule', '--every', 'soon'], /--every must be a duration from 1s to 7d, such as 30s, 15m or 1h; got "soon"/],
  [['schedule', '--every', '300000000d'], /--every must be a duration from 1s to 7d, such as 30s, 15m or 1h; got "300000000d"/],
  [['schedule', '--cron', '99 * * * *'], /--cron must be a valid cron expression with 5 or 6 fields.*got "99 \* \* \* \*"/],
  [['schedule', '--cron', '* * * * *', '--tz', 'Mars/Olympus'], /--tz must be an IANA time zone.*got "Mars\/Olympus"/],
  [['stats', '--mode', 'list'], /mode.*"list".*"hash", "string"/s],
  [['stats', '--buckets', '99999999'], /--buckets must be a whole number from 1 to 16777216; got "99999999"/],
  [['stats', '--sample', '0'], /--sample must be a whole number from 1 to 16777216; got "0"/],
  [['stats', '--prefix', ''], /--prefix must be a non-empty string of at most 128 characters; got ""/],
  [['stats', '--redis', 'me:hunter2@localhost'], /--redis must be a redis:\/\/, rediss:\/\/ or unix:\/\/ URL, or a socket path; got "\*\*\*@localhost"/],
  [['migrate', '--from', 'string'], /--from string needs --from-prefix \(the old store's prefix\)/],
  [['migrate', '--from', 'hash'], /--from hash needs --from-prefix/],
  [['migrate', '--from', 'connect-redis', '--prefix', ''], /--prefix must be a non-empty string of at most 128 characters; got ""/],
  [['migrate', '--from', 'hash', '--from-prefix', ''], /--from-prefix must be a non-empty string of at most 128 characters; got ""/],
  [['migrate', '--from', 'string', '--from-prefix', 'rs:', '--to', 'string', '--prefix', 'rs:'], /names the store itself/],
  [['worker', '--shards', '2'], /Unknown argument: shards/],
  [['sweep'], /Unknown argument: sweep/],
  [[], /Name a command/],
]; // biome-ignore format: a table

describe('bad configuration is refused, naming what is wrong and what is accepted', () => {
  it.each(['worker', 'cleanup', 'schedule', 'stats'])(
    '`%s`: every bad variable at once, each named',
    async (command) => {
      assertBuilt();
      const env = Object.fromEntries(BAD_ENV.map(([name, value]) => [name, value]));
      const out = await runCli([command], env);
      expect(out.code).toBe(2);
      for (const [name, value, accepted] of BAD_ENV) {
        const shown = /PASSWORD|SECRET/.test(name)
          ? '(hidden)'
          : JSON.stringify(name === 'REDIS_URL' ? '***@localhost:6379' : value);
        expect(out.stderr).toContain(`${name}=${shown}: expected ${accepted}`);
      }
      expect(out.stderr).not.toContain('hunter2');
    },
  );

  it('CLEANUP_EVERY with CLEANUP_CRON: choose one', async () => {
    const out = await runCli(['stats'], { REDIS_URL: redisUrl(), CLEANUP_EVERY: '15m', CLEANUP_CRON: '*/5 * * * *' });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/CLEANUP_EVERY and CLEANUP_CRON are both set: choose one/);
  });

  it('every bad flag', async () => {
    // a few at a time: the machine running the suite has other tests to run
    const results: Awaited<ReturnType<typeof runCli>>[] = [];
    for (let i = 0; i < BAD_FLAGS.length; i += 3) {
      const group = BAD_FLAGS.slice(i, i + 3).map(([args]) => runCli(args, { REDIS_URL: redisUrl() }));
      results.push(...(await Promise.all(group)));
    }
    for (const [i, [args, message]] of BAD_FLAGS.entries()) {
      const out = results[i] as (typeof results)[number];
      expect(out.code, args.join(' ')).toBe(2);
      expect(out.stderr, args.join(' ')).toMatch(message);
      expect(out.stderr).toMatch(/Run redisession --help for usage/);
      expect(out.stderr).not.toContain('hunter2');
    }
  }, 60_000);
});
