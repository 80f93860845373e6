import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { createSessionStore } from 'redisession';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';

const run = promisify(execFile);
const BIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const raw = rawClient();
const prefix = testPrefix('cli');

/** Runs the built CLI as a child process, as an operator would; never throws. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it for you)');
});
afterAll(() => dropPrefix(raw, prefix));

describe('redisession CLI', () => {
  it('counts live sessions with stats', async () => {
    const store = createSessionStore({ redis: redisUrl(), prefix });
    for (let i = 0; i < 7; i++) await store.set(randomBytes(24).toString('base64url'), { i });
    await store.close();
    const out = await cli('stats', '--redis', redisUrl(), '--prefix', prefix);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ prefix, mode: 'hash', sessions: 7 });
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
    const out = await cli('stats', '--redis', 'redis://127.0.0.1:1');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/redisession: /);
  });
});
