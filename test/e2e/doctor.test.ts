import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/inspect/doctor.js';
import { scanPrefixPages } from '../../src/redis/scan.js';
import { createSessionStore } from '../../src/store/session-store.js';
import { assertBuilt, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

const servers: RedisServer[] = [];
const workers: WorkerProcess[] = [];

beforeAll(assertBuilt);
afterEach(async () => {
  await Promise.all(workers.splice(0).map(killWorker));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.destroy()));
});

/** A private Redis configured by `args`, holding 200 express-style sessions written by the store. */
async function redisWithSessions(args: string[], serializer: 'json' | 'compact') {
  const server = await startRedisServer(args);
  servers.push(server);
  const env = {
    REDIS_URL: server.url,
    SESSION_PREFIX: 'doc:',
    SESSION_BUCKETS: '64',
    QUEUE_NAME: `q-${randomBytes(4).toString('hex')}`,
  };
  const client = new Redis(server.url);
  const store = createSessionStore({ redis: client, mode: 'hash', prefix: 'doc:', buckets: 64, serializer });
  for (let i = 0; i < 200; i++) {
    const expires = new Date(Date.now() + 3_600_000);
    await store.set(randomBytes(24).toString('base64url'), {
      cookie: { originalMaxAge: 3_600_000, expires: expires.toISOString(), httpOnly: true, path: '/' },
      userId: 1000 + i,
      csrf: randomBytes(16).toString('hex'),
    });
  }
  client.disconnect();
  return env;
}

interface Report {
  ok: boolean;
  counts: Record<string, number>;
  findings: Finding[];
}
const byCheck = (r: Report, check: string) => r.findings.find((f) => f.check === check);

describe('redisession doctor', () => {
  it('a sound setup: exit 0, every check ok', async () => {
    const env = await redisWithSessions(['--appendonly', 'yes'], 'compact');
    const w = startWorker({ ...env, CLEANUP_EVERY: '1h' }); // sets the schedule, stays connected
    workers.push(w);
    await w.ready;

    const out = await runCli(['doctor', '--json'], env);
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as Report;
    expect(report.ok).toBe(true);
    expect(report.findings.filter((f) => f.severity !== 'ok')).toEqual([]);
    expect(byCheck(report, 'redis.version')?.message).toMatch(/7\.\d+\.\d+/);
    expect(byCheck(report, 'redis.persistence')?.message).toMatch(/AOF/);
    expect(byCheck(report, 'store.sessions')?.message).toMatch(/about 200 sessions.*serializers seen: compact \d+$/);
    expect(byCheck(report, 'store.encoding')?.message).toMatch(/listpack/);
    expect(byCheck(report, 'queue.schedule')?.message).toMatch(/every/);

    const text = await runCli(['doctor'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ {2}ok +redis\.maxmemory-policy +maxmemory-policy noeviction$/m);
    expect(text.stdout).toMatch(/0 error\(s\), 0 warning\(s\)\n$/);
  });

  it('a bad setup: reports each problem with its fix and exits 1', async () => {
    const env = await redisWithSessions(
      ['--maxmemory-policy', 'allkeys-lru', '--hash-max-listpack-value', '32'], // and no persistence
      'json',
    );
    // a job that fails for good, through a real worker
    const w = startWorker({ ...env, CLEANUP_SCHEDULE: 'off' });
    workers.push(w);
    await w.ready;
    const conn = new Redis(env.REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(env.QUEUE_NAME, { connection: conn, prefix: '{redisession}' });
    await queue.add('not-a-job', {});
    await w.waitForLog((l) => l.msg === 'job failed for good');
    await queue.close();
    conn.disconnect();

    const out = await runCli(['doctor', '--json'], env);
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout) as Report;
    expect(report.ok).toBe(false);
    expect(byCheck(report, 'redis.maxmemory-policy')).toMatchObject({
      severity: 'error',
      message: expect.stringMatching(/allkeys-lru/),
      fix: expect.stringMatching(/noeviction/),
    });
    expect(byCheck(report, 'redis.persistence')).toMatchObject({
      severity: 'warn',
      message: expect.stringMatching(/logging everyone out/),
      fix: expect.stringMatching(/appendonly yes/),
    });
    // the store's JSON sessions are over 32 bytes: the fix names both remedies
    expect(byCheck(report, 'store.listpack-value')).toMatchObject({
      severity: 'warn',
      message: expect.stringMatching(/over hash-max-listpack-value 32/),
      fix: expect.stringMatching(/serializer: 'compact'.*CONFIG SET hash-max-listpack-value \d+/),
    });
    expect(byCheck(report, 'store.sessions')?.message).toMatch(/serializers seen: json \d+$/);
    expect(byCheck(report, 'store.encoding')).toMatchObject({
      severity: 'warn',
      message: expect.stringMatching(/hashtables/),
    });
    // the worker ran with CLEANUP_SCHEDULE=off; the doctor's environment expects a schedule
    expect(byCheck(report, 'queue.schedule')).toMatchObject({
      severity: 'warn',
      fix: expect.stringMatching(/schedule/),
    });
    expect(byCheck(report, 'queue.failed')).toMatchObject({
      severity: 'warn',
      message: expect.stringMatching(/1 failed job.*unknown job name/),
    });
    expect(report.counts).toMatchObject({ error: 1 });

    const text = await runCli(['doctor'], env);
    expect(text.code).toBe(1);
    for (const line of [/ERROR redis\.maxmemory-policy/, /WARN +redis\.persistence/, /WARN +store\.listpack-value/]) {
      expect(text.stdout).toMatch(line);
    }
    expect(text.stdout).toMatch(/fix: CONFIG SET maxmemory-policy noeviction/);
    expect(text.stdout).toMatch(/1 error\(s\), \d warning\(s\): fix the errors/);
  });

  it('walks the keys under the prefix once: the store checks reuse the buckets the layout check found', async () => {
    const env = await redisWithSessions([], 'compact');
    const admin = new Redis(env.REDIS_URL);
    const scans = async () => Number(/cmdstat_scan:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    try {
      // what one walk of the prefix takes: its hashes, then its strings
      await admin.config('RESETSTAT');
      for (const type of ['hash', 'string'] as const) {
        for await (const _ of scanPrefixPages(admin, Buffer.from('doc:'), type, 1000));
      }
      const oneWalk = await scans();
      await admin.config('RESETSTAT');
      const report = JSON.parse((await runCli(['doctor', '--json'], env)).stdout) as Report;
      expect(byCheck(report, 'store.sessions')?.message).toMatch(/about 200 sessions in \d+ buckets under "doc:", /);
      expect(await scans()).toBe(oneWalk);
    } finally {
      admin.disconnect();
    }
  });

  it('string mode: the store checks say they do not apply', async () => {
    const env = { REDIS_URL: redisUrl(), SESSION_MODE: 'string', QUEUE_NAME: `q-${randomBytes(4).toString('hex')}` };
    const report = JSON.parse((await runCli(['doctor', '--json'], env)).stdout) as Report;
    expect(byCheck(report, 'store.mode')?.severity).toBe('info');
    expect(report.findings.filter((f) => f.check.startsWith('store.listpack'))).toEqual([]);
    expect(byCheck(report, 'queue.workers')?.severity).toBe('info'); // nothing to sweep: no worker needed
  });

  it('an unreachable Redis is an error finding, not a crash', async () => {
    const out = await runCli(['doctor', '--json'], { REDIS_URL: 'redis://127.0.0.1:1', QUEUE_NAME: 'q-none' });
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout) as Report;
    expect(byCheck(report, 'redis.connect')).toMatchObject({ severity: 'error', message: expect.stringMatching(/:1/) });
    expect(byCheck(report, 'queue-redis.connect')?.severity).toBe('error');
  });
});
