import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './connections.js';

/*
 * `commandTimeout` without a timer per command.
 *
 * ioredis arms a setTimeout for every command when `commandTimeout` is set, and clears it when the
 * reply comes: 0.3-0.5 µs of CPU per command here, 5-10% of a whole session read. But Redis answers
 * a connection's commands in the order they were sent, so the ones still waiting are always the
 * newest, in order. One timer per connection, every quarter of the timeout, notes the newest
 * command waiting (sent, or queued while disconnected); once a note is a timeout old, that command
 * and every one sent before it that is still waiting fail as ioredis would fail them ("Command timed
 * out"). A command thus fails between one and one and a quarter timeouts after it was issued,
 * stays in ioredis's queue (its late reply, if any, is dropped, as ioredis does), and nothing
 * happens to the connection.
 */

const TIMED_OUT = 'Command timed out';

interface Pending {
  command: { isSettled?: boolean; reject: (err: Error) => void };
}
interface Queue {
  length: number;
  peekAt(i: number): Pending | undefined;
  peekBack(): Pending | undefined;
}
/** The parts of an ioredis Redis instance read here (its queues, in the order commands were issued). */
interface Node {
  prevCommandQueue?: Queue | null;
  commandQueue: Queue;
  offlineQueue: Queue;
  once(event: 'end', listener: () => void): unknown;
}

function watchNode(redis: Redis, timeoutMs: number): void {
  const node = redis as unknown as Node;
  const notes: Array<{ command: Pending['command']; at: number }> = [];
  const queues = (): Queue[] => {
    const { prevCommandQueue: prev, commandQueue, offlineQueue } = node;
    return prev && prev !== commandQueue ? [prev, commandQueue, offlineQueue] : [commandQueue, offlineQueue];
  };
  const tick = () => {
    const now = Date.now();
    const all = queues();
    let newest: Pending | undefined;
    for (let q = all.length - 1; q >= 0 && newest === undefined; q--) newest = all[q]?.peekBack();
    if (newest && !newest.command.isSettled && notes.at(-1)?.command !== newest.command) {
      notes.push({ command: newest.command, at: now });
    }
    while (notes.length > 0 && (notes[0] as { at: number }).at <= now - timeoutMs) {
      const { command: due } = notes.shift() as { command: Pending['command'] };
      // answered: so was everything sent before it
      if (due.isSettled) continue;
      expireThrough(all, due);
    }
  };
  const timer = setInterval(tick, Math.max(10, Math.floor(timeoutMs / 4)));
  timer.unref();
  node.once('end', () => clearInterval(timer));
}

/**
 * Fails every waiting command up to and including `due`, oldest first. A `due` no longer in any
 * queue (answered in a way that left it unsettled, or taken out by ioredis) fails nothing: the
 * commands before it are not known to be older than a timeout.
 */
function expireThrough(queues: Queue[], due: Pending['command']): void {
  const waiting: Pending['command'][] = [];
  for (const queue of queues) {
    for (let i = 0; i < queue.length; i++) {
      const { command } = queue.peekAt(i) as Pending;
      waiting.push(command);
      if (command === due) {
        for (const c of waiting) if (!c.isSettled) c.reject(new Error(TIMED_OUT));
        return;
      }
    }
  }
}

/**
 * Enforces `timeoutMs` on every command of the client (on a Cluster, on each node's connection, as
 * ioredis's commandTimeout does), for a client created without ioredis's own commandTimeout.
 */
export function enforceCommandTimeout<C extends RedisClient>(client: C, timeoutMs: number): C {
  if (client.isCluster) {
    const cluster = client as Cluster;
    for (const node of cluster.nodes('all')) watchNode(node, timeoutMs);
    cluster.on('+node', (node: Redis) => watchNode(node, timeoutMs));
  } else {
    watchNode(client as Redis, timeoutMs);
  }
  return client;
}

/** Options without `commandTimeout`, and its value when it is a usable number of ms. */
export function takeCommandTimeout<O extends { commandTimeout?: number }>(options: O): [O, number | null] {
  const { commandTimeout, ...rest } = options;
  const ms = typeof commandTimeout === 'number' && commandTimeout > 0 ? commandTimeout : null;
  return [rest as O, ms];
}
