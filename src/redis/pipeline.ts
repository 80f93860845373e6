import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander, Cluster } from 'ioredis';
import type { RedisClient } from './connections.js';

/** One command's outcome in a pipeline. */
export type PipelineReply = [Error | null, unknown];

/** The reply of a key's first (or only) command; its error thrown. */
export function firstReply<T>(replies: PipelineReply[] | undefined): T {
  const [[err, value] = [null, null]] = replies ?? [];
  if (err) throw err;
  return value as T;
}

/**
 * Keys one pipeline sends at most (to one node, on a cluster). Redis runs a client's pipelined
 * calls back to back, so a web request waits behind at most this many (on a cluster, a sweep sends
 * one bucket per call: callsOfRound in src/redis/script-calls.ts).
 */
export const NODE_PIPELINE_MAX = 16;

/**
 * Sends the commands `add` queues for each key (the same number for every key; they may name other
 * keys of its slot) in pipelines of at most NODE_PIPELINE_MAX keys, and returns each key's replies
 * in key order. On a single server the pipelines go one after another; on a cluster keys are
 * grouped by the node serving their slot and nodes run in parallel (an ioredis pipeline must not
 * mix nodes). The one way this code sends a command per key: script calls (script-calls.ts), the
 * store's walks, the bulk move, stats.
 */
export async function pipelinePerKey(
  client: RedisClient,
  keys: Buffer[],
  add: (pipe: ChainableCommander, key: Buffer, i: number) => void,
): Promise<PipelineReply[][]> {
  if (keys.length === 0) return [];
  if (client.isCluster) return perNode(client as Cluster, keys, add);
  const out: PipelineReply[][] = [];
  for (let c = 0; c < keys.length; c += NODE_PIPELINE_MAX) {
    const indexes = Array.from({ length: Math.min(NODE_PIPELINE_MAX, keys.length - c) }, (_, j) => c + j);
    out.push(...(await runPipeline(client, keys, indexes, add)));
  }
  return out;
}

async function runPipeline(
  client: RedisClient,
  keys: Buffer[],
  indexes: number[],
  add: (pipe: ChainableCommander, key: Buffer, i: number) => void,
): Promise<PipelineReply[][]> {
  const pipe = client.pipeline();
  for (const i of indexes) add(pipe, keys[i] as Buffer, i);
  const flat = ((await pipe.exec()) ?? []) as PipelineReply[];
  const per = flat.length / indexes.length;
  return indexes.map((_, j) => flat.slice(j * per, (j + 1) * per));
}

/**
 * The redirections of a slot on the move (resharding) or a failover, and a script the node does
 * not have (NOSCRIPT: ioredis loads it again for a command of its own, but not for one it resends
 * itself after a failover). The command did not run, so sending it again on its own is safe, and
 * ioredis follows the redirection (or loads the script) for a one-key pipeline.
 */
const REDIRECTED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|NOSCRIPT) /;

async function perNode(
  cluster: Cluster,
  keys: Buffer[],
  add: (pipe: ChainableCommander, key: Buffer, i: number) => void,
): Promise<PipelineReply[][]> {
  const out: PipelineReply[][] = new Array(keys.length);
  // The same grouping ioredis checks a pipeline against (slots served by the same nodes).
  const groups = new Map<number | undefined, number[]>();
  keys.forEach((key, i) => {
    const group = cluster._groupsBySlot[calculateSlot(key)];
    const list = groups.get(group);
    if (list) list.push(i);
    else groups.set(group, [i]);
  });
  const alone = async (i: number) => {
    out[i] = (await runPipeline(cluster, keys, [i], add))[0] as PipelineReply[];
  };
  await Promise.all(
    [...groups].map(async ([group, indexes]) => {
      // Slots not known yet (still connecting): one key per pipeline, which waits for the slot map.
      if (group === undefined) {
        await Promise.all(indexes.map(alone));
        return;
      }
      for (let c = 0; c < indexes.length; c += NODE_PIPELINE_MAX) {
        const chunk = indexes.slice(c, c + NODE_PIPELINE_MAX);
        let replies: PipelineReply[][];
        try {
          replies = await runPipeline(cluster, keys, chunk, add);
        } catch (err) {
          // The slot map changed between grouping and sending: fall back to one key at a time.
          if (!/same slots allocation group/.test((err as Error).message)) throw err;
          await Promise.all(chunk.map(alone));
          continue;
        }
        const retry: number[] = [];
        chunk.forEach((i, j) => {
          const mine = replies[j] as PipelineReply[];
          if (mine.some(([e]) => e && REDIRECTED.test(e.message))) retry.push(i);
          else out[i] = mine;
        });
        await Promise.all(retry.map(alone));
      }
    }),
  );
  return out;
}
