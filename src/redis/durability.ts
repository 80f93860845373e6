import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { DurabilityError } from '../store/errors.js';
import type { RedisClient } from './connections.js';

/** The store's `durability` option: a write is acknowledged once this many replicas have it. */
export interface Durability {
  /** Replicas that must confirm each write. */
  replicas: number;
  /** How long to wait for them, ms; a write not confirmed by then fails with DurabilityError. */
  timeoutMs: number;
}

function confirmed(reply: unknown, d: Durability): void {
  const acked = Number(reply);
  if (acked < d.replicas) {
    throw new DurabilityError(
      `write not confirmed by ${d.replicas} replica(s) within ${d.timeoutMs} ms (${acked} did): ` +
        'Redis stored it, but it may be lost if the master fails before its replicas catch up',
    );
  }
}

/**
 * Waits until `d.replicas` replicas have every write this client sent so far on the connections
 * that hold `keys` (WAIT counts the writes of the connection it is sent on: call it after the
 * writes resolved, so a script that had to be sent again is counted too). On a cluster one WAIT
 * per master, routed by a key it holds; on one server (or Sentinel) a single WAIT.
 */
export async function confirmWrites(client: RedisClient, keys: Buffer[], d: Durability): Promise<void> {
  if (!client.isCluster) {
    confirmed(await client.call('WAIT', d.replicas, d.timeoutMs), d);
    return;
  }
  const cluster = client as Cluster;
  const perNode = new Map<unknown, Buffer>();
  for (const key of keys) {
    const slot = calculateSlot(key);
    const node = cluster._groupsBySlot[slot] ?? `slot ${slot}`;
    if (!perNode.has(node)) perNode.set(node, key);
  }
  await Promise.all(
    [...perNode.values()].map(async (key) => {
      // EXISTS only routes the pipeline: WAIT has no key of its own
      const out = (await cluster.pipeline().exists(key).call('WAIT', d.replicas, d.timeoutMs).exec()) ?? [];
      const [err, reply] = out[1] ?? [new Error('no reply to WAIT'), 0];
      if (err) throw err;
      confirmed(reply, d);
    }),
  );
}
