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
    // the layout comes from the store's manifest: a flag that contradicts it is refused
    const str = await cli('stats', '--prefix', prefix, '--mode', 'string', '--json');
    expect(str.code).toBe(1);
    expect(str.stderr).toMatch(/--mode string contradicts store ".*": its manifest records hash mode/);
    const strings = testPrefix('cli-string');
    const s = createSessionStore({ redis: redisUrl(), prefix: strings, mode: 'string' });
    for (let i = 0; i < 3; i++) await s.set(randomBytes(24).toString('base64url'), { i });
    await s.close();
    const fromManifest = await cli('stats', '--prefix', strings, '--json');
    expect(JSON.parse(fromManifest.stdout)).toMatchObject({ mode: 'string', layout: 'manifest', sessions: 3 });
    await dropPrefix(raw, strings);
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
