import { randomBytes } from 'node:crypto';
import { createSessionStore } from 'redisession';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';

const raw = rawClient();
const prefix = testPrefix('cli');
const cli = (...args: string[]) => runCli(args, { REDIS_URL: redisUrl() });

beforeAll(assertBuilt);
afterAll(() => dropPrefix(raw, prefix));

describe('redisession CLI', () => {
  it('counts live sessions with stats', async () => {
    const store = createSessionStore({ redis: redisUrl(), prefix });
    for (let i = 0; i < 7; i++) await store.set(randomBytes(24).toString('base64url'), { i });
    await store.close();
    const out = await cli('stats', '--prefix', prefix, '--exact', '--json');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      prefix,
      mode: 'hash',
      exact: true,
      sessions: 7,
      expiredNotSwept: 0,
    });
    const str = await cli('stats', '--prefix', prefix, '--mode', 'string', '--json');
    expect(JSON.parse(str.stdout)).toMatchObject({ mode: 'string', sessions: 0 });
  });

  it('rejects unknown commands and flags with exit code 2 and a message naming them', async () => {
    const bad = await cli('stats', '--prefx', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Unknown argument: prefx/);
    const mode = await cli('stats', '--mode', 'list');
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/mode.*list.*hash.*string|Invalid values/s);
  });

  it('exits 1 with a clear message when Redis is unreachable', async () => {
    for (const command of ['stats', 'cleanup', 'schedule']) {
      const out = await runCli([command], { REDIS_URL: 'redis://:secret@127.0.0.1:1' });
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(
        /redisession: cannot (reach|read stats from) Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1.*ECONNREFUSED/,
      );
    }
  });
});

describe('configuration errors', () => {
  it.each([
    [{ CLEANUP_SHARDS: 'many' }, /CLEANUP_SHARDS="many": expected an integer from 1 to 1024/],
    [{ CLEANUP_STRATEGY: 'all' }, /CLEANUP_STRATEGY="all": expected full, sample, existing/],
    [{ CLEANUP_EVERY: 'often' }, /CLEANUP_EVERY="often": expected a duration/],
    [{ CLEANUP_EVERY: '15m', CLEANUP_CRON: '*/5 * * * *' }, /CLEANUP_EVERY and CLEANUP_CRON are both set/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL="loud": expected fatal, error, warn, info/],
    [{ REDIS_URL: 'redis://user:hunter2@localhost:6379', SESSION_BUCKETS: '0' }, /SESSION_BUCKETS="0"/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL="localhost:6379": expected a redis:\/\//],
    [{ CLEANUP_CRON: '99 * * * *' }, /CLEANUP_CRON="99 \* \* \* \*": expected a valid cron expression/],
    [{ CLEANUP_TZ: 'Mars/Olympus' }, /CLEANUP_TZ="Mars\/Olympus": expected an IANA time zone/],
  ])('rejects %o at start, naming the variable', async (env, message) => {
    for (const command of ['stats', 'cleanup', 'schedule']) {
      const out = await runCli([command], { REDIS_URL: redisUrl(), ...env } as Record<string, string>);
      expect(out.code).toBe(2);
      expect(out.stderr).toMatch(message);
      expect(out.stderr).not.toContain('hunter2');
    }
  });

  it('rejects bad flags of cleanup and schedule', async () => {
    for (const args of [
      ['cleanup', '--strategy', 'all'],
      ['cleanup', '--shards', '0'],
      ['cleanup', '--shards', 'x'],
      ['cleanup', '--bogus'],
      ['schedule', '--every', '15m', '--cron', '* * * * *'],
      ['schedule', '--every', 'soon'],
      ['schedule', '--cron', 'every day'],
      ['schedule', '--cron', '99 * * * *'],
      ['schedule', '--cron', '* * * * *', '--tz', 'Mars/Olympus'],
      ['cleanup', '--shards', '5000'],
      ['cleanup', '--batch', '100000'],
      ['stats', '--sample', '0'],
      ['stats', '--buckets', '99999999'],
    ]) {
      const out = await cli(...args);
      expect(out.code, args.join(' ')).toBe(2);
      expect(out.stderr).toMatch(/redisession: /);
    }
  });
});
