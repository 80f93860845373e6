import type { Queue } from 'bullmq';
import type { Finding } from '../inspect/doctor.js';
import type { WorkerConfig } from './config.js';
import { KEEP } from './queue.js';
import { showSchedule } from './schedule.js';

/** The cleanup queue as the doctor sees it: schedule, connected workers, failed jobs. */
export async function queueFindings(config: WorkerConfig, queue: Queue): Promise<Finding[]> {
  const findings: Finding[] = [];
  const schedule = await showSchedule(queue);
  const sweeps = config.session.mode === 'hash';
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
      fix: 'resume it from the dashboard, or with queue.resume() (openCleanupQueue() from redisession/worker gives the queue)',
    });
  }

  try {
    const workers = await queue.getWorkers();
    findings.push(
      workers.length > 0
        ? { check: 'queue.workers', severity: 'ok', message: `${workers.length} worker connection(s) on the queue` }
        : {
            check: 'queue.workers',
            severity: sweeps ? 'warn' : 'info',
            message: `no worker is connected to queue ${config.queue.name}: scheduled and requested sweeps wait`,
            fix: 'start the worker (pm2 start ecosystem.config.js) with the same QUEUE_NAME, QUEUE_PREFIX and Redis',
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
