import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar } from '../helpers/http.js';
import { dropPrefix, keysUnder, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';

/*
 * The package as users get it: `npm pack`, then a fresh app per framework that installs the
 * tarball and only that framework's packages (from the npm registry, or npm's cache when it has
 * them), imports redisession from ESM, and serves real HTTP requests against a real redis-server.
 * This is what caught redisession/express failing to load in a fastify app (no express-session).
 *
 * PACKAGES lists what is packed: when the package is split into workspaces (issue 15), list each
 * workspace directory there; the apps install every tarball.
 */

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = join(import.meta.dirname, 'fixtures/packed');
const PACKAGES = [ROOT];
const devDependencies: Record<string, string> = JSON.parse(
  readFileSync(join(ROOT, 'package.json'), 'utf8'),
).devDependencies;
/** The framework versions the repository tests with (so npm's cache usually has them). */
const pinned = (...names: string[]) => names.map((n) => `${n}@${devDependencies[n]}`);

const APPS = {
  express: { packages: pinned('express', 'express-session'), cookie: 'connect.sid' },
  fastify: { packages: pinned('fastify', '@fastify/cookie', '@fastify/session'), cookie: 'sessionId' },
  koa: { packages: pinned('koa', 'koa-session'), cookie: 'koa.sess' },
} as const;
type Framework = keyof typeof APPS;

const work = mkdtempSync(join(tmpdir(), 'redisession-packed-'));
const raw = rawClient();
const running: ChildProcess[] = [];
const prefixes: string[] = [];

afterAll(async () => {
  for (const child of running) child.kill('SIGTERM');
  for (const p of prefixes) await dropPrefix(raw, p);
  rmSync(work, { recursive: true, force: true });
});

/** dist/ must be the build of the current src/ (npm test builds it first). */
function assertFreshBuild(): void {
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(dir, f)).mtimeMs));
  let built: number;
  try {
    built = statSync(join(ROOT, 'dist/index.js')).mtimeMs;
  } catch {
    throw new Error('dist/ is missing: run `npm run build` (npm test does it for you)');
  }
  if (newest(join(ROOT, 'src')) > built) {
    throw new Error('dist/ is older than src/: run `npm run build` (npm test does it for you)');
  }
}

/** Packs every package (without its prepare script: dist/ is already built) into `work`. */
async function pack(): Promise<string[]> {
  const tarballs: string[] = [];
  for (const dir of PACKAGES) {
    const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: dir,
    });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
    tarballs.push(join(work, (packed as { filename: string }).filename));
  }
  return tarballs;
}

/** A new app directory with the tarballs and the framework's packages installed, and its fixtures. */
async function install(framework: Framework, tarballs: string[]): Promise<string> {
  const dir = join(work, `${framework}-app`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `${framework}-app`, private: true, type: 'module' }));
  await exec(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel=error',
      ...tarballs,
      ...APPS[framework].packages,
    ],
    { cwd: dir, timeout: 240_000 },
  );
  for (const f of readdirSync(FIXTURES)) copyFileSync(join(FIXTURES, f), join(dir, f));
  return dir;
}

interface Started {
  base: string;
  entries: Record<string, string>;
  prefix: string;
}

/** Runs the app with node, as its owner would, and waits for the line saying where it listens. */
function start(dir: string, framework: Framework): Promise<Started> {
  const prefix = testPrefix(`packed-${framework}`);
  prefixes.push(prefix);
  const child = spawn(process.execPath, [`${framework}.mjs`], {
    cwd: dir,
    env: { ...process.env, REDIS_URL: redisUrl(), PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => {
      const { port, entries } = JSON.parse(line) as { port: number; entries: Record<string, string> };
      resolvePromise({ base: `http://127.0.0.1:${port}`, entries, prefix });
    });
    child.once('exit', (code) => reject(new Error(`${framework}.mjs exited with ${code}: ${stderr}`)));
  });
}

const installed = new Map<Framework, string>();

beforeAll(async () => {
  assertFreshBuild();
  const tarballs = await pack();
  // one install per framework, side by side
  await Promise.all((Object.keys(APPS) as Framework[]).map(async (f) => installed.set(f, await install(f, tarballs))));
}, 300_000);

describe.each(Object.keys(APPS) as Framework[])('the packed package in a %s app', (framework) => {
  it('has only this framework installed', () => {
    const dir = installed.get(framework) as string;
    const present = (name: string) => {
      try {
        statSync(join(dir, 'node_modules', name, 'package.json'));
        return true;
      } catch {
        return false;
      }
    };
    for (const f of Object.keys(APPS) as Framework[]) {
      for (const spec of APPS[f].packages) {
        const name = spec.slice(0, spec.lastIndexOf('@'));
        expect(present(name), name).toBe(f === framework);
      }
    }
  });

  it('imports redisession from ESM and serves a session over HTTP from the real Redis', async () => {
    const app = await start(installed.get(framework) as string, framework);
    // every entry point this app can load loads; redisession/express needs express-session
    expect(app.entries).toMatchObject({
      redisession: 'ok',
      'redisession/fastify': 'ok',
      'redisession/koa': 'ok',
      'redisession/express':
        framework === 'express' ? 'ok' : expect.stringMatching(/^ERR_MODULE_NOT_FOUND: .*'express-session'/),
    });
    const browser = new CookieJar(app.base);
    expect((await browser.request('/me')).body).toEqual({ user: null });
    expect((await browser.request('/login', { method: 'POST' })).body).toEqual({ ok: true });
    expect(browser.cookies.has(APPS[framework].cookie)).toBe(true);
    expect((await browser.request('/me')).body).toEqual({ user: 'ann' });
    expect(await keysUnder(raw, app.prefix)).toHaveLength(1);
    expect((await browser.request('/ids')).body).toHaveLength(1);
    await browser.request('/logout', { method: 'POST' });
    // what a destroy leaves is a tombstone, no session
    expect((await browser.request('/ids')).body).toHaveLength(0);
    expect((await browser.request('/me')).body).toEqual({ user: null });
  });
});

describe('the packed types', () => {
  it('type-check a fastify app against @fastify/session with no express-session installed', async () => {
    const dir = installed.get('fastify') as string;
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          // Node's own types, from this repository: the app installs nothing but its framework
          typeRoots: [join(ROOT, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['types-fastify.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules/.bin/tsc');
    const result = await exec(tsc, ['-p', 'tsconfig.json'], { cwd: dir }).catch((err) => err);
    expect(`${result.stdout ?? ''}${result.stderr ?? ''}`).toBe('');
  });
});
