import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, killWorker, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { sleep } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * What a worker says and does while it starts: a Redis that is not there (the first run of
 * `npm start`), a Redis that does not answer, a metrics port already taken. Private servers only.
 */

const workers: WorkerProcess[] = [];
const servers: RedisServer[] = [];
const dirs: string[] = [];
beforeAll(assertBuilt);
afterEach(async () => {
  await Promise.all(workers.splice(0).map(killWorker));
  await Promise.all(servers.splice(0).map((s) => s.destroy()));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function worker(env: Record<string, string | undefined>, cwd?: string): WorkerProcess {
  const w = startWorker({ CLEANUP_SCHEDULE: 'off', QUEUE_NAME: `q-${randomBytes(4).toString('hex')}`, ...env }, cwd);
  workers.push(w);
  return w;
}

/** A server that was there and is stopped: its port is known and nobody listens on it. */
async function stoppedServer(): Promise<RedisServer> {
  const s = await startRedisServer();
  servers.push(s);
  await s.stop();
  return s;
}

const aboutRedis = (l: Record<string, unknown>) => /Redis/.test(String(l.msg));

describe('no Redis at the start (npm start on a fresh machine)', () => {
  it('one clear line at the first failure, then once per LOG_REDIS_DOWN_EVERY; ready once Redis is up', async () => {
    const redis = await stoppedServer();
    const secret = `pw-${randomBytes(6).toString('hex')}`;
    const w = worker({ REDIS_URL: `redis://:${secret}@127.0.0.1:${redis.port}`, LOG_REDIS_DOWN_EVERY: '1s' });
    const first = await w.waitForLog(aboutRedis, 15_000);
    expect(first).toMatchObject({
      level: 40,
      redis: `redis://:***@127.0.0.1:${redis.port}`,
      from: 'REDIS_URL in the environment',
    });
    expect(first.msg).toMatch(
      new RegExp(
        `^cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port} \\(REDIS_URL in the environment\\): .*ECONNREFUSED`,
      ),
    );
    expect(first.msg).toMatch(/set REDIS_URL \(see \S*\.env\.example for every setting\), or run `npm run demo`/);
    // ioredis retries every 50..2000 ms: each retry is not a line, the repeats are once a second here
    const repeats = () => w.logs.filter((l) => /^still cannot reach Redis/.test(String(l.msg)));
    await w.waitForLog((l) => /^still cannot reach Redis/.test(String(l.msg)) && Number(l.attempts) > 2, 20_000);
    const lines = w.logs.filter(aboutRedis);
    expect(lines[0]).toBe(first);
    expect(lines.length).toBe(1 + repeats().length); // nothing else about it: no line per retry
    const spanS = (Number(lines.at(-1)?.time) - Number(first.time)) / 1000;
    expect(repeats().length).toBeLessThanOrEqual(Math.ceil(spanS) + 1);
    expect(JSON.stringify(w.logs)).not.toContain(secret);

    await redis.restart();
    await w.ready;
    const back = await w.waitForLog((l) => /^connected to Redis/.test(String(l.msg)));
    expect(back.level).toBe(30);
    await w.waitForLog((l) => l.msg === 'worker ready'); // stdout may trail the IPC 'ready'
  }, 60_000);

  it('names .env when REDIS_URL comes from it', async () => {
    const redis = await stoppedServer();
    const dir = mkdtempSync(join(tmpdir(), 'redisession-start-'));
    dirs.push(dir);
    writeFileSync(join(dir, '.env'), `REDIS_URL=redis://127.0.0.1:${redis.port}\n`);
    const w = worker({ REDIS_URL: undefined }, dir);
    const fromFile = await w.waitForLog(aboutRedis, 15_000);
    expect(fromFile.from).toBe('REDIS_URL in .env');
  }, 30_000);

  it('a Redis that accepts the connection but never answers: said after a few seconds, then ready when it wakes', async () => {
    const frozen = await startRedisServer();
    servers.push(frozen);
    frozen.pause(true);
    const w = worker({ REDIS_URL: frozen.url, LOG_REDIS_DOWN_EVERY: '1s' });
    const said = await w.waitForLog(aboutRedis, 20_000);
    expect(said.msg).toMatch(/^cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ .*: no answer in 3 s/);
    expect(w.logs.some((l) => l.msg === 'worker ready')).toBe(false);
    frozen.pause(false);
    await w.ready;
  }, 45_000);
});

describe('startup checks come before the queue', () => {
  it('a metrics port already taken stops the worker before it takes a job or writes the schedule', async () => {
    const redis = await startRedisServer();
    servers.push(redis);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as AddressInfo).port;
    const name = `q-${randomBytes(4).toString('hex')}`;
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection: conn, prefix: '{redisession}' });
    try {
      const waiting = await queue.add('sweep', { origin: 'cli' });
      const w = worker({
        REDIS_URL: redis.url,
        QUEUE_NAME: name,
        CLEANUP_SCHEDULE: 'on',
        METRICS_PORT: String(port),
      });
      await expect(w.ready).rejects.toThrow(/cannot serve metrics on 127\.0\.0\.1:\d+.*EADDRINUSE/);
      expect((await w.exited).code).toBe(1);
      expect(await queue.getJobState(waiting.id as string)).toBe('waiting');
      expect((await queue.getJob(waiting.id as string))?.attemptsMade).toBe(0);
      expect(await queue.getJobSchedulersCount()).toBe(0);
      expect(await queue.getWorkers()).toEqual([]);
    } finally {
      await queue.close();
      conn.disconnect();
      await new Promise((r) => taken.close(r));
    }
  }, 30_000);
});

describe('logs for people and for machines', () => {
  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)(
    'human-readable on a terminal, JSON lines on a pipe',
    async () => {
      const redis = await stoppedServer();
      const env = { ...process.env, REDIS_URL: `redis://127.0.0.1:${redis.port}`, CLEANUP_SCHEDULE: 'off' };
      // `script` gives the worker a pseudo-terminal as stdout, as a developer's shell does
      const tty = spawn('script', ['-qfec', `${process.execPath} ${BIN} worker`, '/dev/null'], { env });
      let out = '';
      tty.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      const deadline = Date.now() + 15_000;
      while (!/cannot reach Redis/.test(out) && Date.now() < deadline) await sleep(100);
      tty.kill('SIGKILL'); // the terminal hangs up: the worker gets SIGHUP and ends
      expect(out).toMatch(/WARN.*cannot reach Redis at redis:\/\/127\.0\.0\.1/);
      expect(out).not.toMatch(/^\{"level"/m);
    },
    30_000,
  );
});
