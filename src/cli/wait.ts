// Waiting on BullMQ jobs from the CLI (`cleanup --wait`, `migrate --wait`).
import type { Job, Queue, QueueEvents } from 'bullmq';

/** The real reason a flow (sweep, migration) failed: the failing shard's error rather than "child ... failed". */
export async function failureReason(queue: Queue, err: unknown): Promise<string> {
  const text = err instanceof Error ? err.message : String(err);
  const child = /child [^:\s]+:[^:\s]+:([^\s]+) failed/.exec(text)?.[1];
  const job = child ? await queue.getJob(child) : undefined;
  return job?.failedReason ? `shard ${job.data?.shard ?? '?'} failed: ${job.failedReason}` : text;
}

/** How often `--wait` checks that the job it waits for still exists. */
const VANISHED_CHECK_MS = 2000;

/**
 * Waits for a job to finish, or fails once it is gone from the queue: a Redis restarted without
 * persistence loses every job, and BullMQ would wait for this one forever. While Redis cannot be
 * reached the wait goes on: it may come back with the job (AOF, a replica promoted).
 */
export async function finished(queue: Queue, events: QueueEvents, job: Job, what: string): Promise<unknown> {
  const done = job.waitUntilFinished(events);
  done.catch(() => {}); // when the job vanished first, this one never settles or is not awaited
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<never>((_, reject) => {
    timer = setInterval(async () => {
      try {
        if ((await queue.getJobState(job.id as string)) !== 'unknown') return;
      } catch {
        return; // Redis unreachable: keep waiting
      }
      reject(
        new Error(
          `${what} ${job.id} disappeared from the queue (Redis restarted without persistence, or the job was ` +
            'removed): nothing more will come; run the command again',
        ),
      );
    }, VANISHED_CHECK_MS);
  });
  try {
    return await Promise.race([done, gone]);
  } finally {
    clearInterval(timer);
  }
}
