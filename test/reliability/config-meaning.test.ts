import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../worker/src/worker/config.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';

/*
 * Settings that were accepted and then meant something else than they say: PM2's kill_timeout
 * read from SHUTDOWN_TIMEOUT by another parser than the worker's, a .env line that swallowed the
 * next one, CLEANUP_TZ taken and ignored.
 */

const exec = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const dirs: string[] = [];

beforeAll(assertBuilt);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'redisession-meaning-'));
  dirs.push(dir);
  return dir;
}

/** The worker package's PM2 process file, as `pm2 start` in some directory loads it. */
const ECOSYSTEM = join(ROOT, 'worker/ecosystem.config.js');

/** ecosystem.config.js loaded as PM2 loads it (require), with `env`; its app's kill_timeout. */
async function pm2KillTimeout(env: Record<string, string>): Promise<number> {
  const { stdout } = await exec(
    process.execPath,
    ['-e', `process.stdout.write(String(require(${JSON.stringify(ECOSYSTEM)}).apps[0].kill_timeout))`],
    { cwd: tempDir(), env: { ...process.env, ...env } },
  );
  return Number(stdout);
}

describe('SHUTDOWN_TIMEOUT: PM2 and the worker read it alike', () => {
  it.each(['2.5m', '120S', ' 60s', '90s', '45000'])('%j', async (value) => {
    const worker = loadConfig({ SHUTDOWN_TIMEOUT: value }).worker.shutdownTimeout;
    // PM2 must wait the worker's whole budget and a margin before its SIGKILL
    expect(await pm2KillTimeout({ SHUTDOWN_TIMEOUT: value })).toBe(worker + 5000);
  });
});

describe('.env', () => {
  it('a line that is not NAME=value is refused with its line number, before anything connects', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), '# the store\nSESSION_PREFIX app:\nSESSION_BUCKETS=16\n');
    const out = await runCli(['stats', '--json'], { REDIS_URL: redisUrl() }, 30_000, dir);
    expect(out.code, out.stdout).toBe(2);
    expect(out.stderr).toMatch(/\.env line 2: "SESSION_PREFIX app:" is not NAME=value/);
    expect(out.stdout).toBe('');
  });

  it('quotes, comments and export are read as a shell reads them', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, '.env'),
      [
        '# comment',
        'export SESSION_PREFIX="app:x #1"',
        "QUEUE_NAME='q-1' # a comment after a quoted value",
        'SESSION_BUCKETS=16 # a comment',
        '',
        'CLEANUP_SHARDS = 3',
        '',
      ].join('\n'),
    );
    const out = await runCli(['stats', '--json'], { REDIS_URL: redisUrl() }, 30_000, dir);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ prefix: 'app:x #1' });
  });

  it('an unterminated quote is refused with the line it starts on', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'SESSION_MODE=hash\nSESSION_PREFIX="app:\nSESSION_BUCKETS=16\n');
    const out = await runCli(['stats'], { REDIS_URL: redisUrl() }, 30_000, dir);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/\.env line 2: the " quote is never closed/);
  });

  it('ecosystem.config.js refuses the same malformed .env (PM2 shows the error)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'SHUTDOWN_TIMEOUT 60s\nWORKER_INSTANCES=1\n');
    // `pm2 start .../ecosystem.config.js` typed in the directory of that .env
    const run = exec(process.execPath, ['-e', `require(${JSON.stringify(ECOSYSTEM)})`], { cwd: dir });
    await expect(run).rejects.toThrow(/\.env line 1: "SHUTDOWN_TIMEOUT 60s" is not NAME=value/);
  });
});

describe('CLEANUP_TZ', () => {
  it('without CLEANUP_CRON is refused: it would be ignored', async () => {
    const out = await runCli(['stats'], { REDIS_URL: redisUrl(), CLEANUP_EVERY: '1h', CLEANUP_TZ: 'Europe/Paris' });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/CLEANUP_TZ="Europe\/Paris" applies to CLEANUP_CRON only/);
    const noEvery = await runCli(['stats'], { REDIS_URL: redisUrl(), CLEANUP_TZ: 'UTC' });
    expect(noEvery.code).toBe(2);
    const withCron = await runCli(['stats'], {
      REDIS_URL: redisUrl(),
      CLEANUP_CRON: '0 3 * * *',
      CLEANUP_TZ: 'Europe/Paris',
    });
    expect(withCron.code, withCron.stderr).toBe(0);
  });
});
