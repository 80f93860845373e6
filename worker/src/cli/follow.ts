// What `cleanup` and `migrate` share: the queue opened for one request, a flow followed to its end
// with its shards' progress, and a failure reported the same way.
import { type FlowProducer, Job, type Queue, type QueueEvents } from 'bullmq';
import { quietQuit } from 'redisession/internal';
import type { WorkerConfig } from '../worker/config.js';
import { connectQueue, openFlowProducer, openQueue, openQueueEvents } from '../worker/queue.js';
import type { ProgressView, Totals } from './progress.js';
import { closeEvents, failureReason, finished, lastEventId, quietErrors } from './wait.js';

export interface RequestQueue {
  queue: Queue;
  /** With `flows`: a FlowProducer to add a flow with. */
  flows: FlowProducer | null;
  /** With `follow`: the queue's events, from the newest one before the request was added. */
  events: QueueEvents | null;
}

/**
 * Runs `fn` with the queue open (one connection, an error naming the URL when it cannot be
 * reached), and closes everything afterwards. With `follow`, the events are listened to from
 * the newest one on the queue, before `fn` adds anything, so that none about the request is missed.
 */
export async function withQueue<T>(
  config: WorkerConfig,
  opts: { follow: boolean; flows?: boolean },
  fn: (q: RequestQueue) => Promise<T>,
): Promise<T> {
  const connection = await connectQueue(config);
  const queue = openQueue(config, connection);
  const flows = opts.flows ? openFlowProducer(config, connection) : null;
  const events = opts.follow ? openQueueEvents(config, connection, await lastEventId(queue)) : null;
  quietErrors(queue, flows, events);
  try {
    await events?.waitUntilReady(); // listen before asking, or early events are missed
    return await fn({ queue, flows, events });
  } finally {
    if (events) await closeEvents(events);
    await Promise.all([queue.close(), flows?.close()]);
    await quietQuit(connection);
  }
}

/**
 * Shows a flow's progress from its shards' progress events: `flowOf` names the flow an event's
 * data belongs to (null: none of ours); `totals` adds up the latest progress of each of its
 * shards. Events of a flow not known yet are kept, and shown once `follow(id)` names it (a sweep's
 * id is known only once the worker has taken the request). `onEvent` runs on each event shown.
 */
export function showShardProgress<P>(
  events: QueueEvents,
  view: ProgressView,
  opts: { flowOf: (data: P) => string | null; totals: (latest: P[]) => Totals; onEvent?: () => void },
): { follow(id: string): void } {
  const byFlow = new Map<string, Map<string, P>>();
  let followed: string | null = null;
  events.on('progress', ({ jobId, data }) => {
    const p = data as unknown as P;
    const flow = typeof p === 'object' && p !== null ? opts.flowOf(p) : null;
    if (typeof flow !== 'string' || (followed !== null && flow !== followed)) return;
    const shards = byFlow.get(flow) ?? new Map<string, P>();
    shards.set(jobId, p);
    byFlow.set(flow, shards);
    if (flow !== followed) return;
    opts.onEvent?.();
    view.update(opts.totals([...shards.values()]));
  });
  return {
    follow(id) {
      followed = id;
    },
  };
}

/**
 * Waits for a flow's parent to finish and returns its value; a failure is thrown with the failing
 * shard's own reason (see failureReason).
 */
export async function flowResult(queue: Queue, events: QueueEvents, id: string, what: string): Promise<unknown> {
  try {
    const parent = await Job.fromId(queue, id);
    if (!parent) throw new Error(`${what} ${id} disappeared from the queue`);
    return await finished(queue, events, parent, what);
  } catch (err) {
    throw new Error(await failureReason(queue, err));
  }
}

/** A request that failed: `{ failed, error }` on stdout with --json, the reason on stderr, exit status 1. */
export function reportFailure(what: string, err: unknown, json: boolean): void {
  const error = (err as Error).message;
  if (json) process.stdout.write(`${JSON.stringify({ failed: true, error })}\n`);
  process.stderr.write(`redisession: ${what} failed: ${error}\n`);
  process.exitCode = 1;
}
