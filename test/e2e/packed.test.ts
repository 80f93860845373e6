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
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * The packages as users get them: `npm pack` of the library (the repository root) and of the
 * worker (worker/), then fresh apps that install the tarballs from npm's registry or cache:
 * - one per framework, with the library tarball alone and only that framework's packages, which
 *   imports redisession from ESM and serves real HTTP requests against a real redis-server (this is
 *   what caught redisession/express failing to load in a fastify app: no express-session), and
 *   installs none of the worker's packages; the express one also loads the package from CommonJS
 *   (require) and typechecks a CommonJS TypeScript file against it;
 * - one with both tarballs, as on the machines that run the worker, which starts `redisession
 *   worker` under PM2 with the process file the worker package ships and runs a sweep through
 *   `npx redisession`.
 */

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = join(import.meta.dirname, 'fixtures/packed');
const WORKER = join(ROOT, 'worker');
const devDependencies: Record<string, string> = JSON.parse(
  readFileSync(join(ROOT, 'package.json'), 'utf8'),
).devDependencies;
/** What only the worker needs: the library must bring none of it to a web tier. */
const WORKER_ONLY = [
  'redisession-worker',
  'bullmq',
  'pino',
  'pino-pretty',
  'yargs',
  'prom-client',
  'cli-progress',
  'cron-parser',
  'zod',
];
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

/** Each package's dist/ must be the build of its current src/ (npm test builds them first). */
function assertFreshBuild(): void {
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(dir, f)).mtimeMs));
  for (const [dir, entry] of [
    [ROOT, 'dist/index.js'],
    [WORKER, 'dist/cli/main.js'],
  ] as const) {
    let built: number;
    try {
      built = statSync(join(dir, entry)).mtimeMs;
    } catch {
      throw new Error(`${join(dir, 'dist')} is missing: run \`npm run build\` (npm test does it for you)`);
    }
    if (newest(join(dir, 'src')) > built) {
      throw new Error(`${join(dir, 'dist')} is older than its src/: run \`npm run build\` (npm test does it for you)`);
    }
  }
}

/** Packs a package (without its prepare script: dist/ is already built) into `work`. */
async function pack(dir: string): Promise<string> {
  const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: dir,
  });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
  return join(work, (packed as { filename: string }).filename);
}

/** A new app directory with `packages` installed (tarballs and registry specs), and the fixtures. */
async function install(name: string, packages: string[]): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  await exec(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', ...packages],
    { cwd: dir, timeout: 240_000 },
  );
  for (const f of readdirSync(FIXTURES)) copyFileSync(join(FIXTURES, f), join(dir, f));
  return dir;
}

/**
 * The names of the packages an installed package brings, itself included, from the app's
 * package-lock.json (a dependency resolves as Node resolves it: nearest node_modules first).
 */
function broughtBy(dir: string, name: string): Set<string> {
  type Entry = { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, Entry> };
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    names.add(path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    const entry = lock.packages[path] ?? {};
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      for (let at = path; ; at = at.slice(0, at.lastIndexOf('/node_modules/'))) {
        const candidate = `${at}/node_modules/${dep}`;
        if (lock.packages[candidate]) {
          visit(candidate);
          break;
        }
        if (!at.includes('/node_modules/')) {
          if (lock.packages[`node_modules/${dep}`]) visit(`node_modules/${dep}`);
          break;
        }
      }
    }
  };
  visit(`node_modules/${name}`);
  return names;
}

/** Whether an app has a package installed (at its top level). */
function present(dir: string, name: string): boolean {
  try {
    statSync(join(dir, 'node_modules', name, 'package.json'));
    return true;
  } catch {
    return false;
  }
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

const installed = new Map<Framework | 'worker', string>();

beforeAll(async () => {
  assertFreshBuild();
  const library = await pack(ROOT);
  const worker = await pack(WORKER);
  // one install per framework with the library alone, and the worker's machine, side by side
  await Promise.all([
    ...(Object.keys(APPS) as Framework[]).map(async (f) =>
      installed.set(f, await install(`${f}-app`, [library, ...APPS[f].packages])),
    ),
    (async () => installed.set('worker', await install('worker-app', [library, worker])))(),
  ]);
}, 300_000);

describe.each(Object.keys(APPS) as Framework[])('the packed package in a %s app', (framework) => {
  it("has only this framework installed, and none of the worker's packages", () => {
    const dir = installed.get(framework) as string;
    expect(present(dir, 'redisession')).toBe(true);
    for (const f of Object.keys(APPS) as Framework[]) {
      for (const spec of APPS[f].packages) {
        const name = spec.slice(0, spec.lastIndexOf('@'));
        expect(present(dir, name), name).toBe(f === framework);
      }
    }
    const fromLibrary = broughtBy(dir, 'redisession');
    expect([...fromLibrary]).toEqual(expect.arrayContaining(['redisession', 'ioredis', 'snappy', 'msgpackr']));
    for (const name of WORKER_ONLY) expect(fromLibrary.has(name), name).toBe(false);
    // and whatever the framework brings, never the worker or its queue and command-line packages
    for (const name of ['redisession-worker', 'bullmq', 'yargs', 'prom-client']) expect(present(dir, name)).toBe(false);
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

/** Typechecks one file of an app as its own tsc run would, with Node's types from this repository. */
async function typecheck(dir: string, file: string, module: 'NodeNext' | 'node20'): Promise<string> {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        module,
        ...(module === 'NodeNext' ? { moduleResolution: 'NodeNext' } : {}),
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        // Node's own types, from this repository: the app installs nothing but its framework
        typeRoots: [join(ROOT, 'node_modules/@types')],
        types: ['node'],
      },
      files: [file],
    }),
  );
  const tsc = join(ROOT, 'node_modules/.bin/tsc');
  const result = await exec(tsc, ['-p', 'tsconfig.json'], { cwd: dir }).catch((err) => err);
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

describe('the packed types', () => {
  it('type-check a fastify app against @fastify/session with no express-session installed', async () => {
    expect(await typecheck(installed.get('fastify') as string, 'types-fastify.ts', 'NodeNext')).toBe('');
  });
});

describe('the packed library from CommonJS', () => {
  it('loads redisession, redisession/express and redisession/koa with require(), and stores a session', async () => {
    const prefix = testPrefix('packed-cjs');
    prefixes.push(prefix);
    const { stdout, stderr } = await exec(process.execPath, ['require.cjs'], {
      cwd: installed.get('express') as string,
      env: { ...process.env, REDIS_URL: redisUrl(), PREFIX: prefix },
      timeout: 30_000,
    });
    expect(JSON.parse(stdout)).toEqual({
      types: { createSessionStore: 'function', RedisessionStore: 'function', koaStore: 'function' },
      user: 'ann',
    });
    // Node 20.20 prints nothing; some 20.19/22.x releases still print an ExperimentalWarning for require(esm)
    expect(stderr.replace(/^.*(ExperimentalWarning|--trace-warnings).*\n/gm, '')).toBe('');
  });

  it('gives a CommonJS TypeScript file (.cts, module node20) the types of all three', async () => {
    const dir = installed.get('express') as string;
    expect(await typecheck(dir, 'types-cjs.cts', 'node20')).toBe('');
    // and the types are real ones, not `any`: a wrong use is an error
    writeFileSync(
      join(dir, 'types-cjs-wrong.cts'),
      "import redisession = require('redisession');\nexport const n: number = redisession.createSessionStore;\n",
    );
    expect(await typecheck(dir, 'types-cjs-wrong.cts', 'node20')).toMatch(/error TS2322/);
  });
});

describe('the packed worker on the machine that runs it', () => {
  let redis: RedisServer;
  const home = join(work, 'pm2-home');
  const env = () => ({ ...process.env, PM2_HOME: home, REDIS_URL: redis.url, CLEANUP_SCHEDULE: 'off' });
  /** The pm2 CLI (this repository's devDependency), typed in the app's directory. */
  const pm2 = (...args: string[]) =>
    exec(join(ROOT, 'node_modules/.bin/pm2'), args, {
      cwd: installed.get('worker') as string,
      env: env(),
      timeout: 60_000,
    });

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await pm2('kill').catch(() => {});
    await redis?.destroy();
  });

  it('installs the library once, beside the worker, with the `redisession` command', () => {
    const dir = installed.get('worker') as string;
    for (const name of ['redisession', 'redisession-worker', 'bullmq', 'pino', 'yargs']) {
      expect(present(dir, name), name).toBe(true);
    }
    expect(present(join(dir, 'node_modules/redisession-worker'), 'redisession')).toBe(false); // no second copy
    expect(statSync(join(dir, 'node_modules/.bin/redisession')).isFile()).toBe(true);
  });

  it('runs `redisession worker` under PM2 with the shipped ecosystem.config.js and the .env where pm2 is typed', async () => {
    const dir = installed.get('worker') as string;
    writeFileSync(join(dir, '.env'), 'SESSION_PREFIX=shop:\nWORKER_INSTANCES=1\n');
    await pm2('start', 'node_modules/redisession-worker/ecosystem.config.js'); // returns once 'ready'
    const { stdout } = await pm2('jlist');
    const apps = JSON.parse(stdout) as Array<{ pm2_env: { status: string } }>;
    expect(apps.map((a) => a.pm2_env.status)).toEqual(['online']); // WORKER_INSTANCES from the app's .env
    const log = () => readFileSync(join(home, 'logs', 'redisession-worker-out.log'), 'utf8');
    expect(log()).toMatch(/"sessionPrefix":"shop:".*"msg":"worker ready"/); // SESSION_PREFIX from the .env

    // the CLI through npx, reading the same .env: the worker sweeps the store it names
    const sweep = await exec('npx', ['--no-install', 'redisession', 'cleanup', '--wait', '--json'], {
      cwd: dir,
      env: env(),
      timeout: 60_000,
    });
    expect(JSON.parse(sweep.stdout)).toMatchObject({ buckets: 65536 });

    await pm2('stop', 'redisession-worker');
    expect(log()).toMatch(/"msg":"stopped"/);
  }, 60_000);
});
