import { callsOfRound, scriptPerGroup } from '../redis/script-calls.js';
import type { ScriptedClient } from '../redis/scripts.js';
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

/** HSCAN's first cursor, and its last. */
const START = Buffer.from('0');
const isDone = (cursor: Buffer) => cursor.length === 1 && cursor[0] === 0x30;

interface Pending {
  key: Buffer;
  /** As Buffers, the cursors go out with the bucket keys in one pass (src/redis/fast-command.ts). */
  cursor: Buffer;
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
    const cursor = reply[i * 4] as Buffer;
    if (!isDone(cursor)) again.push({ key: p.key, cursor });
  });
  budget.record(units, (reply.length - 1) / 4, Number(reply[reply.length - 1]));
  return again;
}

/**
 * Runs bucket_scan.lua over a batch of buckets until each is done, a round trip at a time (see
 * callsOfRound): on a single Redis one call, handed as many buckets as the call budget says; on a
 * cluster one bucket per call, pipelined per node.
 */
export async function scanBuckets(
  redis: ScriptedClient,
  keys: Buffer[],
  opts: BucketScanOptions,
): Promise<BucketTotals> {
  const totals: BucketTotals = { scanned: 0, expired: 0, live: 0 };
  const budget = opts.budget ?? new CallBudget();
  const cutoff = opts.cutoff === '' ? NO_CUTOFF : opts.cutoff;
  const remove = opts.remove ? YES : NO;
  for (let pending: Pending[] = keys.map((key) => ({ key, cursor: START })); pending.length > 0; ) {
    // HSCAN COUNT follows the field budget too: a slice of a big hashtable bucket fits in one call
    const fields = budget.fields;
    const calls = callsOfRound(redis, pending.length, budget.buckets).map((call) =>
      call.map((i) => pending[i] as Pending),
    );
    const replies = (await scriptPerGroup(
      redis,
      'rsBucketScan',
      calls.map((call) => call.map((p) => p.key)),
      (_keys, i) => [fields, cutoff, opts.graceMs, remove, fields, ...(calls[i] as Pending[]).map((p) => p.cursor)],
    )) as unknown[][];
    // buckets to visit again go after those still waiting
    pending = pending.slice(calls.reduce((n, call) => n + call.length, 0));
    for (const [i, call] of calls.entries()) pending.push(...account(call, replies[i] as unknown[], totals, budget));
  }
  return totals;
}
