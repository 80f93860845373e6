import type { Queue, Worker } from 'bullmq';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RedisClient } from 'redisession';
import type { ShardResult } from './processors.js';
import { JOB, type ShardData, type TriggerResult } from './queue.js';
import { withTimeout } from './timeout.js';

/** Queue states reported by redisession_queue_jobs (read from BullMQ on every scrape). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'waiting-children'] as const;

/** A scrape never waits on Redis longer than this: an outage shows as missing queue gauges, not a hung scrape. */
const QUEUE_READ_TIMEOUT_MS = 1000;

export interface MetricsSources {
  worker: Worker;
  queue: Queue;
  /** The connection BullMQ uses, and the one holding the sessions (may be the same server). */
  connections: { queue: RedisClient; sessions: RedisClient };
}

export interface WorkerMetrics {
  registry: Registry;
  /** Records what a finished job reported (a shard's sums, a sweep's outcome). */
  jobCompleted(job: { name: string; data: unknown }, result: unknown): void;
  /** Records a failed attempt; `final` when no retry is left. */
  jobFailed(name: string, final: boolean): void;
}

/**
 * One registry per worker process (Prometheus sums the instances). Counters move when jobs finish
 * in this process; queue depth and connection state are read when Prometheus scrapes.
 */
export function createWorkerMetrics(sources: MetricsSources): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const sweeps = new Counter({
    name: 'redisession_sweeps_total',
    help: 'Sweeps by outcome: completed, failed (a shard failed for good), skipped; counted by the process that ended the sweep',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of ['completed', 'failed', 'skipped']) sweeps.inc({ outcome }, 0); // present from the start
  const shardDuration = new Histogram({
    name: 'redisession_shard_duration_seconds',
    help: 'Time a sweep shard took, over all its attempts, for shards completed by this process',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers,
  });
  const scanned = new Counter({
    name: 'redisession_fields_scanned_total',
    help: 'Bucket fields (sessions) examined by completed shards, dry runs included',
    registers,
  });
  const deleted = new Counter({
    name: 'redisession_sessions_deleted_total',
    help: 'Expired sessions deleted by completed shards (dry runs delete nothing and are not counted)',
    registers,
  });
  const failures = new Counter({
    name: 'redisession_job_failures_total',
    help: 'Failed job attempts by job name; final="true" when no retry is left',
    labelNames: ['job', 'final'],
    registers,
  });
  const { queue, connections } = sources;
  new Gauge({
    name: 'redisession_queue_jobs',
    help: 'Jobs on the cleanup queue by state (read from BullMQ at scrape time; absent while Redis is unreachable)',
    labelNames: ['state'],
    registers,
    async collect() {
      this.reset();
      if (connections.queue.status !== 'ready') return;
      try {
        const counts = await withTimeout(queue.getJobCounts(...QUEUE_STATES), QUEUE_READ_TIMEOUT_MS);
        for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
      } catch {
        // unreachable mid-scrape: report no value rather than a stale one
      }
    },
  });
  new Gauge({
    name: 'redisession_queue_paused',
    help: "1 while the cleanup queue is paused (queue.pause(), a dashboard's pause button): no sweep runs (absent while Redis is unreachable)",
    registers,
    async collect() {
      this.reset();
      if (connections.queue.status !== 'ready') return;
      try {
        this.set((await withTimeout(queue.isPaused(), QUEUE_READ_TIMEOUT_MS)) ? 1 : 0);
      } catch {
        // unreachable mid-scrape: no value
      }
    },
  });
  new Gauge({
    name: 'redisession_redis_connected',
    help: '1 when the connection is ready, 0 otherwise',
    labelNames: ['connection'],
    registers,
    collect() {
      this.set({ connection: 'queue' }, connections.queue.status === 'ready' ? 1 : 0);
      this.set({ connection: 'sessions' }, connections.sessions.status === 'ready' ? 1 : 0);
    },
  });

  return {
    registry,
    jobCompleted(job, result) {
      if (job.name === JOB.shard) {
        const r = result as ShardResult;
        shardDuration.observe(r.durationMs / 1000);
        scanned.inc(r.scanned);
        if (!(job.data as ShardData).dryRun) deleted.inc(r.deleted);
      } else if (job.name === JOB.summary) {
        sweeps.inc({ outcome: 'completed' });
      } else if (job.name === JOB.trigger && (result as TriggerResult | undefined)?.skipped) {
        sweeps.inc({ outcome: 'skipped' });
      }
    },
    jobFailed(name, final) {
      failures.inc({ job: name, final: String(final) });
      // A shard failing for good hands its parent a deferred failure, which one worker then fails:
      // counting the parent counts each failed sweep once, however many of its shards failed.
      if (name === JOB.summary) sweeps.inc({ outcome: 'failed' });
    },
  };
}
