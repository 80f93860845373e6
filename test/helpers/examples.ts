import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/*
 * The examples under examples/ run as their readers would run them: a Node process of their own
 * (TypeScript through tsx), importing `redisession/...` by its public name. The tsconfig they run
 * with has no `paths`, so the name resolves through package.json "exports" to the build in dist/
 * (the package's own name works inside it), and `redisession-worker` through the workspace link in
 * node_modules to worker/dist/, as they do in an app that installed the packages.
 */

export const ROOT = resolve(import.meta.dirname, '../..');
const TSCONFIG = join(ROOT, 'examples/tsconfig.run.json');

export function assertBuiltForExamples(): void {
  if (!existsSync(join(ROOT, 'dist/index.js')) || !existsSync(join(ROOT, 'worker/dist/worker/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does it for you)');
  }
}

function spawnExample(file: string, env: Record<string, string>): ChildProcess {
  assertBuiltForExamples();
  return spawn(process.execPath, ['--import', 'tsx', join(ROOT, file)], {
    cwd: ROOT,
    env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface ExampleResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an example script to its end. */
export function runExample(file: string, env: Record<string, string>, timeoutMs = 60_000): Promise<ExampleResult> {
  const child = spawnExample(file, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolvePromise) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export interface RunningExample {
  /** http://127.0.0.1:port, from the example's `listening on` line. */
  base: string;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
}

/** Starts an example server on `env.PORT` and waits for its `listening on <url>` line. */
export function startExample(file: string, env: Record<string, string>, timeoutMs = 30_000): Promise<RunningExample> {
  const child = spawnExample(file, env);
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${file} did not say where it listens within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const url = /^listening on (http:\/\/\S+)/.exec(line)?.[1];
      if (!url) return;
      clearTimeout(timer);
      resolvePromise({ base: url, stop });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code}: ${stderr}`));
    });
  });
}
