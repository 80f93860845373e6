import { requestScript } from '../redis/fast-command.js';
import { type Arg, type ScriptedClient, scriptPerKey } from '../redis/scripts.js';
import { CallBudget } from './call-budget.js';

/** Sweeps use the server's clock minus this, so a web server whose clock runs ahead loses nothing. */
export const DEFAULT_GRACE_MS = 60_000;

export interface BucketScanOptions {
  /** Expiry at or below this (Unix ms) counts as expired; '' = the server's TIME minus graceMs. */
  cutoff: number | '';
  graceMs: number;
  /** Delete the expired sessions (a sweep) or only count them (length, dry run). */
  remove: boolean;
  /** Sizes each script call from the ones before (a sweep keeps one across its batches). @default a new CallBudget */
  budget?: CallBudget;
}

export interface BucketTotals {
  scanned: number;
  expired: number;
  live: number;
}

const NO_CUTOFF = Buffer.alloc(0);
const YES = Buffer.from('1');
const NO = Buffer.from('0');

interface Pending {
  key: Buffer;
  cursor: string;
}

/**
 * Adds one bucket_scan.lua reply (4 entries per bucket it got to, then the µs it ran) to the totals
 * and the budget; returns the buckets to visit again: those it did not get to, and big (hashtable)
 * buckets whose HSCAN cursor is not done.
 */
function account(group: Pending[], reply: unknown[], totals: BucketTotals, budget: CallBudget): Pending[] {
  const again: Pending[] = [];
  let units = 0;
  group.forEach((p, i) => {
    if (i * 4 + 4 >= reply.length) {
      again.push(p); // the call's field budget ran out before this bucket
      return;
    }
    const scanned = Number(reply[i * 4 + 1]);
    totals.scanned += scanned;
    totals.expired += Number(reply[i * 4 + 2]);
    totals.live += Number(reply[i * 4 + 3]);
    units += 1 + scanned;
    const cursor = String(reply[i * 4]);
    if (cursor !== '0') again.push({ key: p.key, cursor });
  });
  budget.record(units, (reply.length - 1) / 4, Number(reply[reply.length - 1]));
  return again;
}

/**
 * Runs bucket_scan.lua over a batch of buckets until each is done: on a single Redis one call at a
 * time, each handed as many buckets as the call budget says; on a cluster one bucket per call (the
 * keys of a call must share a slot), pipelined per node.
 */
export async function scanBuckets(
  redis: ScriptedClient,
  keys: Buffer[],
  opts: BucketScanOptions,
): Promise<BucketTotals> {
  const totals: BucketTotals = { scanned: 0, expired: 0, live: 0 };
  const budget = opts.budget ?? new CallBudget();
  // HSCAN COUNT follows the field budget too: a slice of a big hashtable bucket fits in one call
  const cutoff = opts.cutoff === '' ? NO_CUTOFF : opts.cutoff;
  const remove = opts.remove ? YES : NO;
  const common = (): Arg[] => {
    const fields = budget.fields;
    return [fields, cutoff, opts.graceMs, remove, fields];
  };
  const queue: Pending[] = keys.map((key) => ({ key, cursor: '0' }));
  if (redis.isCluster) {
    for (let pending = queue; pending.length > 0; ) {
      const args = common();
      const replies = (await scriptPerKey(
        redis,
        'rsBucketScan',
        pending.map((p) => p.key),
        (_k, i) => [...args, (pending[i] as Pending).cursor],
      )) as unknown[][];
      pending = pending.flatMap((p, i) => account([p], replies[i] as unknown[], totals, budget));
    }
    return totals;
  }
  // One call at a time per shard, not pipelined: Redis runs a client's pipelined calls back to back,
  // so a web request would wait behind all of them.
  const script = requestScript('rsBucketScan');
  for (let head = 0; head < queue.length; ) {
    const group = queue.slice(head, head + budget.buckets);
    head += group.length;
    const keysThenArgs = [...group.map((p) => p.key), ...common(), ...group.map((p) => p.cursor)];
    const reply = (await script.run(redis, keysThenArgs, group.length)) as unknown[];
    queue.push(...account(group, reply, totals, budget));
  }
  return totals;
}
