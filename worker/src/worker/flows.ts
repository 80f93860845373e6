import { DelayedError, type FlowProducer, type Job, type JobNode } from 'bullmq';
import type { WorkerConfig } from './config.js';
import type { Logger } from './logger.js';

/*
 * What sweeps and migrations share as BullMQ flows: a summary parent with one child per shard;
 * each shard saves a checkpoint with every progress update, resumes from it when retried or taken
 * over, and is parked (not failed) when its worker shuts down; the parent sums its shards.
 */

/** Bounded history: old finished jobs go, so the queue's keys never grow without end. */
export const KEEP = {
  completed: { count: 200, age: 7 * 86_400 },
  failed: { count: 1000, age: 30 * 86_400 },
} as const;

/** Options of every job this code adds: its history bounded by KEEP. */
export const KEPT = { removeOnComplete: KEEP.completed, removeOnFail: KEEP.failed } as const;

/**
 * A shard job of a flow (sweep or migration): retried with backoff from its checkpoint, and its
 * last failure fails the parent, so a flow never waits forever.
 */
export function shardJobOptions(config: WorkerConfig) {
  return {
    attempts: config.cleanup.attempts,
    backoff: { type: 'exponential', delay: 1000 },
    failParentOnFailure: true,
    ...KEPT,
  };
}

/** Adds a flow: the parent job `names.summary` with `parent` as data, a `names.shard` child per shard. */
export function addFlow(
  config: WorkerConfig,
  flows: FlowProducer,
  names: { summary: string; shard: string },
  parent: object,
  shards: object[],
): Promise<JobNode> {
  const queueName = config.queue.name;
  return flows.add({
    name: names.summary,
    queueName,
    data: parent,
    opts: KEPT,
    children: shards.map((data) => ({ name: names.shard, queueName, data, opts: shardJobOptions(config) })),
  });
}

/** The progress a shard saved last (it holds the checkpoint a retry resumes from), or null. */
export function savedProgress<P extends { checkpoint: unknown }>(job: Job): P | null {
  const p = job.progress as unknown;
  return typeof p === 'object' && p !== null && 'checkpoint' in p ? (p as P) : null;
}

/**
 * Parks a shard its worker stopped for shutdown, without spending an attempt: whoever picks it up
 * next resumes from the checkpoint saved with its last progress update.
 */
export async function parkShard(
  job: Job,
  token: string | undefined,
  log: Logger,
  fields: object,
  message: string,
): Promise<never> {
  log.info(fields, message);
  await job.moveToDelayed(Date.now(), token);
  throw new DelayedError();
}

/** The parent's shards' results, summed field by field into `totals` (a field a shard lacks counts 0). */
export async function sumShards<T extends Record<string, number>>(parent: Job, totals: T): Promise<number> {
  const values = Object.values(await parent.getChildrenValues<Partial<T>>());
  for (const v of values) {
    for (const field of Object.keys(totals) as Array<keyof T>) {
      totals[field] = ((totals[field] as number) + (v[field] ?? 0)) as T[keyof T];
    }
  }
  return values.length;
}
