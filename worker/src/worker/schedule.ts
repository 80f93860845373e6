import type { Queue } from 'bullmq';
import type { WorkerConfig } from './config.js';
import { formatDuration } from './duration.js';
import { KEPT } from './flows.js';
import { JOB, SCHEDULER_ID, type TriggerData } from './queue.js';
import type { StoreRef } from './served-store.js';

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
 * Set by removeSchedule, cleared by upsertSchedule, next to the queue's own keys (the same hash
 * tag, and lost with them): tells a schedule removed on purpose from one lost with Redis's data.
 */
const removedKey = (queue: Queue) => queue.toKey('redisession:schedule-removed');

/**
 * Creates or updates the repeatable sweep. upsertJobScheduler is atomic and keyed by id, so every
 * worker process may call it at start and there is still exactly one scheduler.
 */
export async function upsertSchedule(queue: Queue, spec: ScheduleSpec, store?: StoreRef): Promise<void> {
  const repeat = spec.cron
    ? { pattern: spec.cron, ...(spec.tz ? { tz: spec.tz } : {}) }
    : { every: spec.every ?? 15 * 60_000 };
  await queue.upsertJobScheduler(SCHEDULER_ID, repeat, {
    name: JOB.trigger,
    // the store the schedule sweeps: should two stores share a queue, the other's worker refuses it
    data: { origin: 'schedule', ...(store ? { store } : {}) } satisfies TriggerData,
    opts: KEPT,
  });
  await (await queue.backend.client).del(removedKey(queue));
}

/** Removes the repeatable sweep, and records that it was removed on purpose (first: a crash between leaves no doubt). */
export async function removeSchedule(queue: Queue): Promise<boolean> {
  await (await queue.backend.client).set(removedKey(queue), new Date().toISOString());
  return queue.removeJobScheduler(SCHEDULER_ID);
}

/** When the schedule was removed on purpose (`schedule --remove`, CLEANUP_SCHEDULE=off), or null. */
export async function scheduleRemovedAt(queue: Queue): Promise<string | null> {
  return (await queue.backend.client).get(removedKey(queue));
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
