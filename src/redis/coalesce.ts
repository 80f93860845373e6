import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './connections.js';

/*
 * One socket write per event-loop tick instead of one per command.
 *
 * ioredis writes each command to its socket as it is issued (`stream.write` in
 * Redis#sendCommand, with noDelay on), so 64 concurrent GETs cost 64 write syscalls: about 13 µs
 * of CPU per GET here, against about 2 µs for node-redis, which sends a tick's commands together.
 * Corking the socket on the first command of a tick and uncorking it in process.nextTick gives
 * ioredis the same: Node hands everything written meanwhile to one writev.
 *
 * Why it is safe, from ioredis 6's source:
 * - Nothing sent changes, nor its order: only when the bytes leave. process.nextTick runs before
 *   the event loop moves on (after the promise jobs of this tick), so a command never waits for
 *   I/O, a timer or another tick; latency at concurrency 1 is unchanged.
 * - The hook is sendCommand, which every command goes through: plain commands, scripts
 *   (EVALSHA and its EVAL retry), pipelines and MULTI (a pipeline builds its commands into one
 *   string or Buffer and writes it to the node's socket from inside its last sendCommand call:
 *   that write joins the tick's batch, whole), the offline queue (replayed through sendCommand
 *   when the connection is ready: the replay leaves in one write) and the commands ioredis resends
 *   after a reconnect.
 * - The cork belongs to the socket object, and ioredis replaces the socket on every reconnect:
 *   each tick corks whichever socket is current, and uncorks that same socket. A command written
 *   into a corked socket that dies before the uncork is in ioredis's command queue, exactly like
 *   one sitting in the kernel's buffer, so ioredis retries or rejects it by its usual rules.
 *   end() and destroy() flush or drop a corked socket as they would an uncorked one.
 * - On a Cluster it goes on each node's connection (the ones there are now, and each one the
 *   cluster adds later, via its '+node' event); the cluster only routes commands to them.
 *
 * Where it does not go, and why:
 * - Blocking connections (BullMQ's worker fetch, BZPOPMIN; QueueEvents, XREAD BLOCK): one command
 *   at a time, nothing to batch. BullMQ makes them with duplicate(), which builds a new client
 *   from the options alone, so coalescing a connection handed to BullMQ never reaches them.
 * - Subscriber and MONITOR connections: ioredis's cluster subscribers and monitor() are separate
 *   clients too (not pool nodes), and they mostly read. Coalescing one would be harmless, not useful.
 * - Code that issues a command and then computes synchronously for long before yielding: the
 *   command leaves at the end of that work instead of at once, so Redis no longer works in
 *   parallel with it. Likewise a command fired without waiting just before process.exit() in the
 *   same tick never leaves. A session store awaits its commands; such code should keep its own
 *   client uncoalesced.
 */

const APPLIED = Symbol.for('redisession.coalesceWrites');

interface Socket {
  cork(): void;
  uncork(): void;
}

/** The parts of an ioredis Redis instance the hook touches. */
interface Node {
  stream?: Socket;
  sendCommand(command: unknown, stream?: unknown): unknown;
  [APPLIED]?: true;
}

function coalesceNode(redis: Redis): void {
  const node = redis as unknown as Node;
  if (node[APPLIED]) return;
  node[APPLIED] = true;
  const send = node.sendCommand;
  let corked: Socket | null = null;
  const flush = () => {
    const socket = corked;
    corked = null;
    socket?.uncork();
  };
  // An own property shadowing Redis.prototype.sendCommand, through which ioredis sends everything.
  node.sendCommand = function sendCoalesced(command, stream) {
    const socket = node.stream;
    if (socket !== corked && socket !== undefined) {
      // A socket replaced within the tick (a reconnect): what went into the old one leaves now.
      if (corked === null) process.nextTick(flush);
      else corked.uncork();
      socket.cork();
      corked = socket;
    }
    return send.call(this, command, stream);
  };
}

/**
 * Makes an ioredis client (Redis or Cluster) send all the commands issued in one event-loop tick
 * in one socket write, as node-redis does: several times less CPU per command under concurrency,
 * replies and order unchanged. Every client this library creates has it; call this on a client
 * you create yourself and pass in (`createSessionStore({ redis: coalesceWrites(new Redis(url)) })`).
 * Applying it again to the same client does nothing. Returns the client.
 */
export function coalesceWrites<C extends RedisClient>(client: C): C {
  const marked = client as unknown as { [APPLIED]?: true };
  if (marked[APPLIED]) return client;
  if (client.isCluster) {
    const cluster = client as Cluster;
    marked[APPLIED] = true;
    for (const node of cluster.nodes('all')) coalesceNode(node);
    // emitted synchronously when the pool creates a node, before it is handed any command
    cluster.on('+node', (node: Redis) => coalesceNode(node));
  } else {
    coalesceNode(client as Redis);
  }
  return client;
}

/** Whether coalesceWrites has been applied to this client. */
export function writesCoalesced(client: RedisClient): boolean {
  return (client as unknown as { [APPLIED]?: true })[APPLIED] === true;
}
