import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

const exec = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const PM2 = join(ROOT, 'node_modules/.bin/pm2');
const home = mkdtempSync(join(tmpdir(), 'redisession-pm2-'));
let redis: RedisServer;
let env: Record<string, string>;
let metricsPort: number;

/**
 * A free port whose next one is free too: each PM2 instance serves metrics on METRICS_PORT + its
 * index. Picked below the kernel's ephemeral range (32768 and up by default), so no outgoing
 * connection of this or another test can take one of the two before the workers listen on them.
 */
async function twoFreePorts(): Promise<number> {
  const isFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer().once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await isFree(port)) && (await isFree(port + 1))) return port;
  }
}

/**
 * Runs the real pm2 CLI with a private PM2_HOME, so no other PM2 daemon is touched, typed in that
 * directory (with no .env: the settings come from `env`).
 */
const pm2 = (...args: string[]) => exec(PM2, args, { cwd: home, env: { ...process.env, ...env }, timeout: 60_000 });

async function processes(): Promise<Array<{ status: string; mode: string; restarts: number }>> {
  const { stdout } = await pm2('jlist');
  return (JSON.parse(stdout) as Array<{ pm2_env: { status: string; exec_mode: string; restart_time: number } }>).map(
    (p) => ({ status: p.pm2_env.status, mode: p.pm2_env.exec_mode, restarts: p.pm2_env.restart_time }),
  );
}

function logLines(): Array<Record<string, unknown>> {
  const text = readFileSync(join(home, 'logs', 'redisession-worker-out.log'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer();
  metricsPort = await twoFreePorts();
  env = {
    PM2_HOME: home,
    REDIS_URL: redis.url,
    WORKER_INSTANCES: '2',
    CLEANUP_SCHEDULE: 'off',
    CLEANUP_GRACE: '0',
    METRICS_PORT: String(metricsPort),
  };
});
afterAll(async () => {
  await pm2('kill').catch(() => {});
  await redis.destroy();
  rmSync(home, { recursive: true, force: true });
});

describe("under PM2, with the worker package's ecosystem.config.js", () => {
  it('starts the instances in fork mode, runs sweeps, and stops them gracefully', async () => {
    await pm2('start', join(ROOT, 'worker/ecosystem.config.js')); // wait_ready: returns once both sent 'ready'
    const started = await processes();
    expect(started).toEqual([
      { status: 'online', mode: 'fork_mode', restarts: 0 },
      { status: 'online', mode: 'fork_mode', restarts: 0 },
    ]);
    expect(logLines().filter((l) => l.msg === 'worker ready')).toHaveLength(2); // plain JSON lines

    const out = await runCli(['cleanup', '--wait', '--json', '--shards', '4'], { REDIS_URL: redis.url });
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ buckets: 65536, shards: 4 });

    // each instance serves its own metrics, on METRICS_PORT + NODE_APP_INSTANCE; their shards add up to 4
    const ports = [metricsPort, metricsPort + 1];
    for (const port of ports) expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const shardsCounted = async () => {
      let sum = 0;
      for (const port of ports) {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        sum += Number(/^redisession_shard_duration_seconds_count (\d+)$/m.exec(text)?.[1]);
      }
      return sum;
    };
    const deadline = Date.now() + 10_000; // a shard's 'completed' event may trail the CLI's answer
    while ((await shardsCounted()) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await shardsCounted()).toBe(4);

    await pm2('stop', 'redisession-worker'); // SIGINT, then SIGKILL only after kill_timeout
    expect((await processes()).map((p) => p.status)).toEqual(['stopped', 'stopped']);
    expect(logLines().filter((l) => l.msg === 'stopped')).toHaveLength(2);
  }, 60_000); // two PM2 processes starting and stopping: slow on a loaded machine
});
