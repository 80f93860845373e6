import type { Queue } from 'bullmq';
import type { Finding } from 'redisession/internal';
import type { WorkerConfig } from './config.js';
import { KEEP } from './flows.js';
import { showSchedule } from './schedule.js';
import { type ServedStore, storeOfWorker } from './served-store.js';

/**
 * The cleanup queue as the doctor sees it: schedule, connected workers (and whose store they serve),
 * failed jobs. `served`: the store as its manifest describes it (null when it could not be read).
 */
export async function queueFindings(
  config: WorkerConfig,
  queue: Queue,
  served: ServedStore | null,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const schedule = await showSchedule(queue);
  const sweeps = (served?.layout.mode ?? config.session.mode) === 'hash';
  if (schedule) {
    const when = schedule.cron ? `cron "${schedule.cron}"` : `every ${schedule.every}`;
    findings.push({
      check: 'queue.schedule',
      severity: 'ok',
      message: `repeatable sweep ${when}, next ${schedule.next ?? 'unknown'}`,
    });
  } else if (sweeps && config.schedule.enabled) {
    findings.push({
      check: 'queue.schedule',
      severity: 'warn',
      message: 'no repeatable sweep on the queue: expired hash-mode sessions pile up until someone asks for a sweep',
      fix: 'start a worker (it sets the schedule from CLEANUP_EVERY / CLEANUP_CRON), or run redisession schedule --every 15m',
    });
  } else {
    findings.push({
      check: 'queue.schedule',
      severity: 'info',
      message: sweeps ? 'CLEANUP_SCHEDULE=off: sweeps run only when asked' : 'string mode: no sweep needed',
    });
  }

  if (await queue.isPaused()) {
    findings.push({
      check: 'queue.paused',
      severity: 'warn',
      message: `queue ${config.queue.name} is paused (a dashboard's pause button, or queue.pause()): no sweep or migration runs until it is resumed`,
      fix: 'resume it from the dashboard, or with queue.resume() (openCleanupQueue() from redisession-worker gives the queue)',
    });
  }

  try {
    const workers = (await queue.getWorkers()) as Array<{ rawname?: string }>;
    const prefix = config.session.prefix;
    const others = workers.map((w) => storeOfWorker(w.rawname)).filter((s) => s !== null && s.prefix !== prefix);
    const theirs = [...new Set(others.map((s) => JSON.stringify(s?.prefix)))].join(', ');
    findings.push(
      others.length > 0
        ? {
            check: 'queue.workers',
            severity: 'error',
            message:
              `${others.length} of the ${workers.length} worker(s) on queue ${config.queue.name} serve store ${theirs}, ` +
              `not ${JSON.stringify(prefix)}: two stores share the queue, and each store's requests taken by the other's ` +
              'workers are refused',
            fix: 'give each store its own QUEUE_NAME, or leave QUEUE_NAME unset (then derived from SESSION_PREFIX)',
          }
        : workers.length > 0
          ? {
              check: 'queue.workers',
              severity: 'ok',
              message: `${workers.length} worker connection(s) on queue ${config.queue.name}, for store ${JSON.stringify(prefix)}`,
            }
          : {
              check: 'queue.workers',
              severity: sweeps ? 'warn' : 'info',
              message: `no worker is connected to queue ${config.queue.name}: scheduled and requested sweeps wait`,
              fix: 'start the worker (npx redisession worker, or PM2 with the ecosystem.config.js of redisession-worker) with the same QUEUE_NAME, QUEUE_PREFIX and Redis',
            },
    );
  } catch (err) {
    findings.push({
      check: 'queue.workers',
      severity: 'info',
      message: `cannot list workers (CLIENT LIST not allowed?): ${(err as Error).message}`,
    });
  }

  const counts = await queue.getJobCounts('failed', 'waiting', 'active', 'delayed');
  if ((counts.failed ?? 0) > 0) {
    const [latest] = await queue.getFailed(0, 0);
    findings.push({
      check: 'queue.failed',
      severity: 'warn',
      message:
        `${counts.failed} failed job(s) kept on the queue` +
        (latest ? `; latest: ${latest.name} ${latest.id}: ${latest.failedReason}` : ''),
      fix:
        `read the worker logs ("job failed for good"), fix the cause, then run redisession cleanup --wait; ` +
        `failed jobs are dropped after ${KEEP.failed.age / 86_400} days or past ${KEEP.failed.count}`,
    });
  } else {
    findings.push({
      check: 'queue.failed',
      severity: 'ok',
      message: `no failed jobs (${counts.waiting ?? 0} waiting, ${counts.active ?? 0} active, ${counts.delayed ?? 0} delayed)`,
    });
  }
  return findings;
}
