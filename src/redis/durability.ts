import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import { DurabilityError } from '../store/errors.js';
import type { RedisClient } from './connections.js';

/** The store's `durability` option: a write is acknowledged once this many replicas have it. */
export interface Durability {
  /** Replicas that must confirm each write. */
  replicas: number;
  /** How long to wait for them, ms; a write not confirmed by then fails with DurabilityError. */
  timeoutMs: number;
}

/*
 * WAIT counts the writes made on the connection it is sent on, and blocks that connection while
 * it waits. So: it must go on the very connection (socket) the writes went through, which a
 * reconnect or a failover replaces (a WAIT on the new one confirms nothing about the old writes:
 * those are refused); and the writes of many requests share one WAIT (group commit), so that
 * requests do not queue behind one WAIT each.
 */

/** Where a key's writes go: the connection (node client), and which of its connections in turn. */
export interface WriteMark {
  node: Redis;
  /** The value of generationOf(node).n while the writes go out. */
  generation: number;
}

const generations = new WeakMap<Redis, { n: number }>();

/** How many times a node client has (re)connected: a write and its WAIT must share one connection. */
function generationOf(node: Redis): { n: number } {
  let g = generations.get(node);
  if (!g) {
    const counter = { n: 0 };
    node.on('ready', () => {
      counter.n++;
    });
    generations.set(node, counter);
    g = counter;
  }
  return g;
}

/** The node clients serving these keys now; taken before the writes are sent. */
export async function markWrites(client: RedisClient, keys: Buffer[]): Promise<WriteMark[]> {
  const nodes = new Set<Redis>();
  if (!client.isCluster) nodes.add(client as Redis);
  else {
    const cluster = client as Cluster;
    if (cluster.status !== 'ready') await cluster.ping(); // the slot map, once, at start
    for (const key of keys) nodes.add(nodeOf(cluster, key));
  }
  return [...nodes].map((node) => {
    const g = generationOf(node);
    // not connected yet: the writes go out on the connection about to open
    return { node, generation: node.status === 'ready' ? g.n : g.n + 1 };
  });
}

function nodeOf(cluster: Cluster, key: Buffer): Redis {
  // ioredis keeps no public "client of this slot": the slot map and the pool it routes with
  const address = cluster.slots[calculateSlot(key)]?.[0];
  const pool = (cluster as unknown as { connectionPool: { getInstanceByKey(k: string): Redis | undefined } })
    .connectionPool;
  const node = address ? pool.getInstanceByKey(address) : undefined;
  if (!node) {
    throw new DurabilityError("no node serves the key's slot right now (a failover under way?): the write is not made");
  }
  return node;
}

type WaitResult = Promise<{ acked: number; generation: number }>;

/** Per node client: the WAIT in flight, and the one that goes when it is answered. */
const batches = new WeakMap<Redis, { inflight: WaitResult | null; queued: WaitResult | null }>();

/** A WAIT sent after this call (so after the caller's writes were answered), shared with others. */
function waitOn(node: Redis, d: Durability): WaitResult {
  let s = batches.get(node);
  if (!s) {
    s = { inflight: null, queued: null };
    batches.set(node, s);
  }
  const state = s;
  const send = (): WaitResult => {
    const generation = generationOf(node).n;
    const done = (node.call('WAIT', d.replicas, d.timeoutMs) as Promise<unknown>).then((acked) => ({
      acked: Number(acked),
      generation,
    }));
    state.inflight = done;
    const clear = () => {
      if (state.inflight === done) state.inflight = null;
    };
    done.then(clear, clear);
    return done;
  };
  // one in flight may have left before this caller's writes were answered: join the next one
  if (!state.inflight) return send();
  if (!state.queued) {
    const after = state.inflight;
    const queued = after
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        if (state.queued === queued) state.queued = null;
        return send();
      });
    state.queued = queued;
  }
  return state.queued;
}

/**
 * Waits until `d.replicas` replicas have the writes made on the marked connections; throws
 * DurabilityError when they do not confirm in time, or when a connection changed since the marks
 * were taken (a reconnect or a failover: nothing can confirm the writes any more).
 */
export async function confirmWrites(marks: WriteMark[], d: Durability): Promise<void> {
  await Promise.all(
    marks.map(async ({ node, generation }) => {
      let result: { acked: number; generation: number };
      try {
        result = await waitOn(node, d);
      } catch (err) {
        throw new DurabilityError(`could not confirm the write with WAIT: ${(err as Error).message}`, { cause: err });
      }
      if (result.generation !== generation || generationOf(node).n !== generation) {
        throw new DurabilityError(
          'the connection to Redis changed during the write (a reconnect or a failover): it cannot be confirmed',
        );
      }
      if (result.acked < d.replicas) {
        throw new DurabilityError(
          `write not confirmed by ${d.replicas} replica(s) within ${d.timeoutMs} ms (${result.acked} did): ` +
            'Redis stored it, but it may be lost if the master fails before its replicas catch up',
        );
      }
    }),
  );
}
