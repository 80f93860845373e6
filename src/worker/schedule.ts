import type { Queue } from 'bullmq';
import type { WorkerConfig } from './config.js';
import { formatDuration } from './duration.js';
import { JOB, KEEP, SCHEDULER_ID, type TriggerData } from './queue.js';

export interface ScheduleSpec {
  every: number | null;
  cron: string | null;
  tz: string | null;
}

export interface ScheduleInfo {
  id: string;
  every: string | null;
  cron: string | null;
  tz: string | null;
  next: string | null;
}

/**
 * Creates or updates the repeatable sweep. upsertJobScheduler is atomic and keyed by id, so every
 * worker process may call it at start and there is still exactly one scheduler.
 */
export async function upsertSchedule(queue: Queue, spec: ScheduleSpec): Promise<void> {
  const repeat = spec.cron
    ? { pattern: spec.cron, ...(spec.tz ? { tz: spec.tz } : {}) }
    : { every: spec.every ?? 15 * 60_000 };
  await queue.upsertJobScheduler(SCHEDULER_ID, repeat, {
    name: JOB.trigger,
    data: { origin: 'schedule' } satisfies TriggerData,
    opts: { removeOnComplete: KEEP.completed, removeOnFail: KEEP.failed },
  });
}

export async function removeSchedule(queue: Queue): Promise<boolean> {
  return queue.removeJobScheduler(SCHEDULER_ID);
}

export async function showSchedule(queue: Queue): Promise<ScheduleInfo | null> {
  const s = await queue.getJobScheduler(SCHEDULER_ID);
  if (!s) return null;
  return {
    id: SCHEDULER_ID,
    every: s.every ? formatDuration(Number(s.every)) : null,
    cron: s.pattern ?? null,
    tz: s.tz ?? null,
    next: isoDate(s.next),
  };
}

/** A run time as ISO text; null when unknown or beyond what a Date holds (a schedule set by other tools). */
function isoDate(ms: number | undefined | null): string | null {
  const at = new Date(Number(ms));
  return ms && !Number.isNaN(at.getTime()) ? at.toISOString() : null;
}

export function scheduleFromConfig(config: WorkerConfig): ScheduleSpec {
  return { every: config.schedule.every, cron: config.schedule.cron, tz: config.schedule.tz };
}
