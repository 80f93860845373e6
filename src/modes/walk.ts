import type { RedisClient } from '../redis/connections.js';
import { firstReply, NODE_PIPELINE_MAX, pipelinePerKey } from '../redis/pipeline.js';
import { hashSlices, scanPrefix } from '../redis/scan.js';

/** A stored session found by a walk: its binary key (the id's, without prefix) and stored value. */
export interface StoredEntry {
  key: Buffer;
  value: Buffer;
}

/*
 * Walks over every stored value under a prefix, for ids(), all() and entries(): admin use, never on
 * a request. Each page holds at most NODE_PIPELINE_MAX keys' values (or bucket slices), so memory
 * stays bounded whatever the store holds; the caller decides what to keep. Like SCAN itself, a
 * walk may meet a session twice when Redis resizes a table meanwhile.
 */

/** String mode: SCAN the prefix, then GET the keys that can be ours, a pipeline at a time. */
export async function* walkStrings(
  client: () => RedisClient,
  prefix: Buffer,
  isKey: (key: Buffer) => boolean,
  count: number,
): AsyncGenerator<StoredEntry[]> {
  for await (const found of scanPrefix(client(), prefix, 'string', count)) {
    const keys = found.filter((k) => isKey(k.subarray(prefix.length)));
    for (let i = 0; i < keys.length; i += NODE_PIPELINE_MAX) {
      const slice = keys.slice(i, i + NODE_PIPELINE_MAX);
      const replies = await pipelinePerKey(client(), slice, (pipe, k) => pipe.getBuffer(k));
      const page: StoredEntry[] = [];
      slice.forEach((k, j) => {
        const [[err] = [null]] = replies[j] ?? [];
        // destroyed since SCAN saw it: a tombstone is a hash (src/modes/tombstone.ts)
        if (err && /^WRONGTYPE/.test(err.message)) return;
        const value = firstReply<Buffer | null>(replies[j]);
        // expired or deleted since SCAN saw it
        if (value !== null) page.push({ key: k.subarray(prefix.length), value });
      });
      if (page.length > 0) yield page;
    }
  }
}

const pairs = (flat: Buffer[]): StoredEntry[] => {
  const out: StoredEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ key: flat[i] as Buffer, value: flat[i + 1] as Buffer });
  return out;
};

/**
 * Hash mode: the buckets' fields, HSCAN COUNT `count` at a time (see hashSlices): the first slice
 * of a few buckets makes one page; a big (hashtable) bucket then makes a page per slice.
 */
export async function* walkBuckets(
  client: () => RedisClient,
  bucketPages: AsyncIterable<Buffer[]>,
  count: number,
): AsyncGenerator<StoredEntry[]> {
  for await (const buckets of bucketPages) {
    for (let i = 0; i < buckets.length; i += NODE_PIPELINE_MAX) {
      for await (const slices of hashSlices(client(), buckets.slice(i, i + NODE_PIPELINE_MAX), count)) {
        const page = slices.flatMap((s) => pairs(s.flat));
        if (page.length > 0) yield page;
      }
    }
  }
}
