import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { runSweep, type SweepCheckpoint } from '../../src/sweep/runner.js';
import { assertBuilt, dropQueues, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';
import { countFields, plantSessions } from '../helpers/sessions.js';

/*
 * A shard that finished is never counted twice. Its job may be delivered again when its worker
 * dies between finishing and BullMQ recording the job as completed: the shard then resumes from
 * its last checkpoint, which already holds its final totals.
 */

const raw = rawClient();
const prefixes: string[] = [];
const queues: string[] = [];
const workers: WorkerProcess[] = [];
afterAll(async () => {
  await Promise.all(workers.map(killWorker));
  for (const p of prefixes) await dropPrefix(raw, p);
  await dropQueues(queues, raw);
});

describe('a restarted worker never double-counts a finished shard', () => {
  it('a shard resumed from its final checkpoint reports the same totals and scans nothing again', async () => {
    const prefix = testPrefix('resume');
    prefixes.push(prefix);
    await plantSessions(raw, prefix, 256, 70, 30);
    const target = { client: raw, prefix: Buffer.from(prefix), buckets: 256 };
    let last: SweepCheckpoint | null = null;
    const first = await runSweep(target, {
      graceMs: 0,
      dryRun: true,
      batch: 16,
      range: { from: 0, to: 128 },
      onProgress: (p) => {
        last = p.checkpoint;
      },
    });
    // more expired sessions arrive: a shard that scanned again would count them
    await plantSessions(raw, prefix, 256, 500, 0);
    const again = await runSweep(target, {
      graceMs: 0,
      dryRun: true,
      batch: 16,
      range: { from: 0, to: 128 },
      checkpoint: last as unknown as SweepCheckpoint,
    });
    expect(first.completed && again.completed).toBe(true);
    expect({ ...again, durationMs: 0 }).toEqual({ ...first, durationMs: 0 });
  });

  it('workers killed and restarted during a dry-run sweep: every session counted exactly once', async () => {
    assertBuilt();
    const prefix = testPrefix('restart');
    const queue = `q-${randomBytes(4).toString('hex')}`;
    prefixes.push(prefix);
    queues.push(queue);
    await plantSessions(raw, prefix, 4096, 3000, 1000);
    const env = {
      REDIS_URL: redisUrl(),
      QUEUE_NAME: queue,
      SESSION_PREFIX: prefix,
      SESSION_BUCKETS: '4096',
      CLEANUP_SCHEDULE: 'off',
      CLEANUP_GRACE: '0',
      CLEANUP_SHARDS: '4',
      CLEANUP_BATCH: '16',
      WORKER_CONCURRENCY: '1',
      WORKER_LOCK_DURATION: '2s',
      WORKER_STALLED_INTERVAL: '1s',
    };
    const start = () => {
      const w = startWorker(env);
      workers.push(w);
      return w;
    };
    const a = start();
    await a.ready;
    // a dry run counts without deleting: a batch done twice, or lost, would show in the totals
    const cli = runCli(['cleanup', '--wait', '--json', '--dry-run'], env, 120_000);
    const finished = await a.waitForLog((l) => l.msg === 'shard finished');
    a.proc.kill('SIGKILL'); // right after a shard finished, most likely in the next one
    await a.exited;
    const b = start();
    await b.ready;
    const out = await cli;
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ buckets: 4096, scanned: 4000, deleted: 3000, dryRun: true });
    // the finished shard was not run again, or was resumed at its end with the same totals
    const redone = b.logs.filter((l) => l.jobId === finished.jobId && l.msg === 'shard finished');
    for (const l of redone) expect(l).toMatchObject({ scanned: finished.scanned, deleted: finished.deleted });
    expect(b.logs.some((l) => l.jobId === finished.jobId && l.msg === 'shard started')).toBe(false);
    expect(await countFields(raw, prefix)).toBe(4000); // a dry run deletes nothing
  }, 90_000);
});
