import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './connections.js';

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

/** The nodes that hold data: the client itself, or every master of a cluster. */
export function dataNodes(client: RedisClient): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

/**
 * Yields batches of keys under the prefix that have the given Redis type, walking every data node
 * with SCAN (never KEYS). A key may be yielded twice if the keyspace changes meanwhile (SCAN's own
 * guarantee), so callers must be idempotent.
 */
export async function* scanPrefix(
  client: RedisClient,
  prefix: Buffer,
  type: 'hash' | 'string',
  count = 1000,
): AsyncGenerator<Buffer[]> {
  const pattern = prefixPattern(prefix);
  for (const node of dataNodes(client)) {
    let cursor = '0';
    do {
      // ioredis accepts Buffer arguments everywhere; its types only admit strings for MATCH.
      const match = pattern as unknown as string;
      const [next, keys] = await node.scanBuffer(cursor, 'MATCH', match, 'COUNT', count, 'TYPE', type);
      cursor = next.toString();
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
}
