import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './connections.js';
import { type PipelineReply, pipelinePerKey } from './pipeline.js';

const GLOB_SPECIAL = new Set([0x2a, 0x3f, 0x5b, 0x5d, 0x5c]); // * ? [ ] \

/** A SCAN MATCH pattern for "starts with prefix", with glob characters in the prefix escaped. */
export function prefixPattern(prefix: Buffer): Buffer {
  const out: number[] = [];
  for (const b of prefix) {
    if (GLOB_SPECIAL.has(b)) out.push(0x5c);
    out.push(b);
  }
  out.push(0x2a);
  return Buffer.from(out);
}

/**
 * The nodes that hold data: the client itself, or every master of a cluster (once the cluster
 * client knows its slot map: before that it lists no node, and a walk would find nothing).
 */
async function dataNodes(client: RedisClient): Promise<Redis[]> {
  if (!client.isCluster) return [client as Redis];
  const cluster = client as Cluster;
  if (cluster.status !== 'ready') await cluster.ping(); // queued until the cluster is ready, or fails
  // by address: the same order for every client, whatever order the slot map arrived in
  return cluster.nodes('master').sort((x, y) => (addressOf(x) < addressOf(y) ? -1 : 1));
}

const addressOf = (node: Redis): string => `${node.options.host}:${node.options.port}`;

/**
 * Where a prefix scan stands: which data node (its index in dataNodes, and its address, which is
 * what a resume goes by: masters change with failovers and resharding), and SCAN's cursor on it.
 */
export interface ScanPosition {
  node: number;
  cursor: string;
  address?: string;
}

/**
 * Where to start on these nodes. A position whose node is gone (a failover) starts over: SCAN may
 * then yield keys again, which callers already allow for.
 */
function resumeAt(nodes: Redis[], from: ScanPosition): ScanPosition {
  if (from.address === undefined) return from;
  const n = nodes.findIndex((node) => addressOf(node) === from.address);
  return n === -1 ? { node: 0, cursor: '0' } : { node: n, cursor: from.cursor };
}

export interface ScanPage {
  keys: Buffer[];
  /** Where to resume after this page; null once every node has been walked. */
  next: ScanPosition | null;
}

/**
 * Yields pages of keys under the prefix that have the given Redis type, walking every data node
 * with SCAN (never KEYS), optionally from a saved position. A key may be yielded twice if the
 * keyspace changes meanwhile (SCAN's own guarantee), so callers must be idempotent.
 */
export async function* scanPrefixPages(
  client: RedisClient,
  prefix: Buffer,
  type: 'hash' | 'string',
  count = 1000,
  from: ScanPosition = { node: 0, cursor: '0' },
): AsyncGenerator<ScanPage> {
  // ioredis accepts Buffer arguments everywhere; its types only admit strings for MATCH.
  const match = prefixPattern(prefix) as unknown as string;
  const nodes = await dataNodes(client);
  const start = resumeAt(nodes, from);
  const at = (n: number, cursor: string): ScanPosition => ({ node: n, cursor, address: addressOf(nodes[n] as Redis) });
  for (let n = start.node; n < nodes.length; n++) {
    const node = nodes[n] as Redis;
    let cursor = n === start.node ? start.cursor : '0';
    do {
      const [next, keys] = await node.scanBuffer(cursor, 'MATCH', match, 'COUNT', count, 'TYPE', type);
      cursor = next.toString();
      const more = cursor !== '0' ? at(n, cursor) : n + 1 < nodes.length ? at(n + 1, '0') : null;
      yield { keys, next: more };
    } while (cursor !== '0');
  }
}

/** Batches of keys under the prefix with the given type (see scanPrefixPages). */
export async function* scanPrefix(
  client: RedisClient,
  prefix: Buffer,
  type: 'hash' | 'string',
  count = 1000,
): AsyncGenerator<Buffer[]> {
  for await (const page of scanPrefixPages(client, prefix, type, count)) {
    if (page.keys.length > 0) yield page.keys;
  }
}

/** A slice of one hash's fields, as HSCAN gives it: [field, value, field, value, ...]. */
export interface HashSlice {
  key: Buffer;
  flat: Buffer[];
}

/**
 * Every field of these hashes, HSCAN COUNT `count` at a time, for walks that read them all (the
 * store's admin walks, the bulk move): the first slice of every hash in one go (pipelinePerKey),
 * yielded together; then each big (hashtable) hash followed alone, a slice per yield, until its
 * cursor is done. Something else at one of the keys (WRONGTYPE: not ours) is skipped.
 */
export async function* hashSlices(client: RedisClient, keys: Buffer[], count: number): AsyncGenerator<HashSlice[]> {
  const replies = await pipelinePerKey(client, keys, (pipe, k) => pipe.hscanBuffer(k, '0', 'COUNT', count));
  const first: HashSlice[] = [];
  const unfinished: Array<[Buffer, string]> = [];
  keys.forEach((key, i) => {
    const [[err, reply] = [null, null]] = replies[i] as PipelineReply[];
    if (err && /^WRONGTYPE/.test(err.message)) return;
    if (err) throw err;
    const [cursor, flat] = reply as [Buffer, Buffer[]];
    first.push({ key, flat });
    if (cursor.toString() !== '0') unfinished.push([key, cursor.toString()]);
  });
  yield first;
  for (const [key, from] of unfinished) {
    let cursor = from;
    do {
      const [next, flat] = await client.hscanBuffer(key, cursor, 'COUNT', count);
      cursor = next.toString();
      yield [{ key, flat }];
    } while (cursor !== '0');
  }
}
