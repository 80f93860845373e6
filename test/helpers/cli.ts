import { type ChildProcess, execFile, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Queue } from 'bullmq';
import { type Cluster, Redis } from 'ioredis';
import { redisUrl } from './redis.js';

/** The built CLI (the worker package's), run as an operator runs it. npm test builds it before the tests. */
export const BIN = new URL('../../worker/dist/cli/main.js', import.meta.url).pathname;

export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error('worker/dist/ is missing: run `npm run build` (npm test does it for you)');
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `redisession ...args` to completion; never throws. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  cwd?: string,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, ...(cwd ? { cwd } : {}) },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface WorkerProcess {
  proc: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Array<Record<string, unknown>>;
  /** Resolves on process.send('ready'), what PM2's wait_ready waits for. */
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when a log line matches. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/**
 * Starts `redisession worker` as a child process with an IPC channel, in `cwd` (where it reads
 * .env) if given. A variable set to undefined is removed from the inherited environment.
 */
export function startWorker(env: Record<string, string | undefined>, cwd?: string): WorkerProcess {
  const merged = Object.fromEntries(
    Object.entries({ ...process.env, ...env }).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const proc = fork(BIN, ['worker'], {
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    ...(cwd ? { cwd } : {}),
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }> = [];
  let buffer = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push(line);
        for (const w of [...waiters]) {
          if (w.match(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      } catch {
        logs.push({ raw: text });
      }
    }
  });
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    proc.on('message', (m) => m === 'ready' && resolve());
    exited.then(({ code }) => reject(new Error(`worker exited (${code}) before ready: ${stderr}`)));
  });
  ready.catch(() => {});
  return {
    proc,
    logs,
    ready,
    exited,
    waitForLog(match, timeoutMs = 30_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching log line in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
      });
    },
  };
}

/** Stops a worker if it is still running (SIGKILL), for test teardown. */
export async function killWorker(w: WorkerProcess): Promise<void> {
  if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
  await w.exited;
}

/**
 * Removes test queues and all their jobs (BullMQ's obliterate), through `connection` or a
 * connection of its own to the shared test Redis.
 */
export async function dropQueues(names: string[], connection?: Redis | Cluster): Promise<void> {
  const conn = connection ?? new Redis(redisUrl(), { maxRetriesPerRequest: null });
  for (const name of names) {
    const q = new Queue(name, { connection: conn, prefix: '{redisession}' });
    await q.obliterate({ force: true });
    await conn.del(q.toKey('redisession:schedule-removed')); // our own key next to the queue's
    await q.close();
  }
  if (!connection) await conn.quit();
}
