// Waiting on BullMQ jobs from the CLI (`cleanup --wait`, `migrate --wait`).
import { Job, type Queue, type QueueEvents } from 'bullmq';
import type { RedisClient } from 'redisession';
import { type StoreRef, storeOfWorker } from '../worker/served-store.js';
import { withTimeout } from '../worker/timeout.js';

/** The real reason a flow (sweep, migration) failed: the failing shard's error rather than "child ... failed". */
export async function failureReason(queue: Queue, err: unknown): Promise<string> {
  const text = err instanceof Error ? err.message : String(err);
  const child = /child [^:\s]+:[^:\s]+:([^\s]+) failed/.exec(text)?.[1];
  const job = child ? await queue.getJob(child) : undefined;
  return job?.failedReason ? `shard ${job.data?.shard ?? '?'} failed: ${job.failedReason}` : text;
}

/** How often `--wait` looks at the job it waits for, whatever the events say. */
const CHECK_MS = 1000;
/**
 * A look that gets no answer in this time is given up and the next one sent: a command caught in
 * a connection that died under it can stay unanswered for ever (seen with Redis SIGKILLed and
 * restarted: the wait then never noticed the job was gone).
 */
const CHECK_TIMEOUT_MS = 5000;

/**
 * The id of the newest event on the queue's stream ('0' when there is none): a QueueEvents
 * started from it receives every event after this moment, even when its first XREAD goes out
 * late (the default, '$', only sees events after that read, and so missed the 'completed' of a
 * job finished meanwhile: `cleanup --wait` hung on Redis Cluster). Undefined where XREVRANGE is
 * not allowed (an ACL user of an older setup): `finished` still notices the job by looking at it.
 */
export async function lastEventId(queue: Queue): Promise<string | undefined> {
  const client = (await queue.backend.client) as unknown as RedisClient; // the ioredis connection the queue was given
  try {
    const [last] = await client.xrevrange(queue.keys.events as string, '+', '-', 'COUNT', 1);
    return last?.[0] ?? '0';
  } catch {
    return undefined;
  }
}

/**
 * Waits for a job to finish. The 'completed'/'failed' events are the fast path; the job itself is
 * also looked at every second, so a finished job is noticed even when its event never arrives (a
 * reader that started late, a failover that lost the event), and a job gone from the queue (Redis
 * restarted without persistence) fails the wait instead of leaving it hanging. While Redis cannot
 * be reached the wait goes on: it may come back with the job (AOF, a replica promoted).
 */
export async function finished(queue: Queue, events: QueueEvents, job: Job, what: string): Promise<unknown> {
  const id = job.id as string;
  const done = job.waitUntilFinished(events);
  done.catch(() => {}); // when the check below settles first, this one never settles or is not awaited
  let timer: NodeJS.Timeout | undefined;
  const checked = new Promise<unknown>((resolve, reject) => {
    let busy = false;
    timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const state = await withTimeout(queue.getJobState(id), CHECK_TIMEOUT_MS);
        if (state === 'completed' || state === 'failed') {
          const now = await withTimeout(Job.fromId(queue, id), CHECK_TIMEOUT_MS);
          if (now && state === 'completed') resolve(now.returnvalue);
          else if (now) reject(new Error(now.failedReason || `${what} ${id} failed`));
        } else if (state === 'unknown') {
          reject(
            new Error(
              `${what} ${id} disappeared from the queue (Redis restarted without persistence, or the job was ` +
                'removed): nothing more will come; run the command again',
            ),
          );
        }
      } catch {
        // Redis unreachable, or no answer: keep waiting
      } finally {
        busy = false;
      }
    }, CHECK_MS);
  });
  try {
    return await Promise.race([done, checked]);
  } finally {
    clearInterval(timer);
  }
}

/**
 * The CLI awaits what it asks of the queue, so a failure reaches it as a rejection; BullMQ's
 * 'error' events (one per reconnect attempt while Redis restarts) would otherwise land on stderr
 * as bare stack traces.
 */
export function quietErrors(...emitters: Array<object | null>): void {
  for (const e of emitters) (e as NodeJS.EventEmitter | null)?.on('error', () => {});
}

/**
 * Closes a QueueEvents and its connection. BullMQ's close waits for the connection's 'end', which
 * never comes when the connection is between two reconnects (Redis just restarted): the CLI then
 * printed its answer and hung. So the wait is bounded, and the connection dropped in any case.
 */
export async function closeEvents(events: QueueEvents): Promise<void> {
  await withTimeout(events.close(), 2000).catch(() => {});
  (events.opts.connection as RedisClient).disconnect();
}

/** How long a request may wait before the CLI says why (no worker, or a paused queue). */
const IDLE_NOTICE_MS = 10_000;

/**
 * Says on stderr why a request is not taken: at once when the queue is paused (a dashboard's
 * pause button, queue.pause(): no worker takes anything until it is resumed), and after 10 s when
 * no worker has taken it. Returns the function that cancels the notice (the request was taken).
 */
export function noticeWhileWaiting(queue: Queue, request: string, what: string, storePrefix?: string): () => void {
  let cancelled = false;
  const paused = () =>
    `waiting: queue ${queue.name} is paused (a dashboard's pause button, or queue.pause()): ${request} waits until ` +
    'it is resumed (resume it there, or with queue.resume()); Ctrl-C stops waiting, the request stays queued\n';
  let saidPaused = false;
  const say = (text: string) => {
    if (!cancelled) process.stderr.write(text);
  };
  const isPaused = () => queue.isPaused().catch(() => false);
  void isPaused().then((p) => {
    if (p) {
      saidPaused = true;
      say(paused());
    }
  });
  const timer = setTimeout(async () => {
    if (await isPaused()) {
      if (!saidPaused) say(paused());
    } else {
      say(
        `waiting: no worker has taken ${request} yet (is \`redisession worker\` running${storePrefix === undefined ? '' : ` for store ${JSON.stringify(storePrefix)}`} on queue ${queue.name} ` +
          `of the same Redis?); Ctrl-C stops waiting, the ${what} stays queued\n`,
      );
    }
  }, IDLE_NOTICE_MS);
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}

/**
 * Why nobody will take a request for this store now, or null: no worker on the queue at all, or only
 * workers of other stores (they refuse it). Unknown when CLIENT LIST is not allowed.
 */
export async function noWorkerFor(queue: Queue, store: StoreRef): Promise<string | null> {
  let workers: Array<{ rawname?: string }>;
  try {
    workers = (await queue.getWorkers()) as Array<{ rawname?: string }>;
  } catch {
    return null;
  }
  const wanted = `SESSION_PREFIX=${JSON.stringify(store.prefix)}`;
  if (workers.length === 0) {
    return (
      `waiting: no worker is connected to queue ${queue.name}: the request for store ${JSON.stringify(store.prefix)} waits ` +
      `until one starts (\`redisession worker\` with ${wanted} and the same QUEUE_NAME/QUEUE_PREFIX); Ctrl-C ` +
      'stops waiting, the request stays queued'
    );
  }
  const stores = workers.map((w) => storeOfWorker(w.rawname));
  if (stores.every((s) => s !== null && s.prefix !== store.prefix)) {
    const theirs = [...new Set(stores.map((s) => JSON.stringify(s?.prefix)))].join(', ');
    return `note: the workers on queue ${queue.name} serve store ${theirs}, not ${JSON.stringify(store.prefix)}: they will refuse the request`;
  }
  return null;
}
