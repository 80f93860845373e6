import type { Arg, ScriptedClient } from '../redis/scripts.js';
import type { DestroyOptions, IndexEntry, TouchOutcome, WriteOutcome } from './mode.js';
import { TOMBSTONE_MIN_MS } from './tombstone.js';

/*
 * The session scripts (src/lua/session_*.lua), shared by both modes: a session is `key` plus
 * `field` (its field in a bucket hash; '' for a string key). An index entry, when given, is the
 * script's second key and its last argument.
 */

/** A touch ending a session earlier than stored by at most this much changes nothing (see session_touch.lua). */
export const TOUCH_SLACK_MS = 1000;

export interface SessionAt {
  key: Buffer;
  field: Buffer | '';
}

function keysAndArgs(at: SessionAt, args: Arg[], index: IndexEntry | undefined): Arg[] {
  return index ? [2, at.key, index.index, at.field, ...args, index.field] : [1, at.key, at.field, ...args];
}

const WRITE: Record<number, WriteOutcome> = { 1: 'stored', 0: 'dead', [-1]: 'revoked' };

export async function writeSession(
  redis: ScriptedClient,
  at: SessionAt,
  value: Buffer,
  ttlMs: number,
  now: number,
  sweep: { sample: number; graceMs: number },
  index?: IndexEntry,
): Promise<WriteOutcome> {
  const reply = await redis.rsSessionSet(
    ...(keysAndArgs(at, [value, ttlMs, now, sweep.sample, sweep.graceMs], index) as [number, ...Arg[]]),
  );
  return WRITE[reply as number] ?? 'stored';
}

export async function touchSession(
  redis: ScriptedClient,
  at: SessionAt,
  expiresAt: number,
  ttlMs: number,
  now: number,
  graceMs: number,
  index?: IndexEntry,
): Promise<TouchOutcome> {
  const reply = await redis.rsSessionTouchBuffer(
    ...(keysAndArgs(at, [expiresAt, ttlMs, now, TOUCH_SLACK_MS, graceMs], index) as [number, ...Arg[]]),
  );
  if (Array.isArray(reply)) return { shorter: reply[1] as Buffer };
  return reply === 1 ? 'touched' : reply === -1 ? 'revoked' : 'missing';
}

export async function shortenSession(
  redis: ScriptedClient,
  at: SessionAt,
  expected: Buffer,
  expiresAt: number,
  ttlMs: number,
  now: number,
  graceMs: number,
  index?: IndexEntry,
): Promise<boolean> {
  const reply = await redis.rsSessionShorten(
    ...(keysAndArgs(at, [expected, expiresAt, ttlMs, now, graceMs], index) as [number, ...Arg[]]),
  );
  return reply === 1;
}

export async function destroySession(
  redis: ScriptedClient,
  at: SessionAt,
  { now, condition, legacy }: DestroyOptions,
): Promise<{ done: boolean; value: Buffer | null }> {
  const args: Arg[] = [
    at.field,
    legacy?.field ?? '',
    now,
    TOMBSTONE_MIN_MS,
    condition.is,
    condition.is === 'same' ? condition.value : '',
  ];
  const keys: Arg[] = legacy ? [2, at.key, legacy.key] : [1, at.key];
  const [done, value] = (await redis.rsSessionDestroyBuffer(...(keys.concat(args) as [number, ...Arg[]]))) as [
    number,
    Buffer | null,
  ];
  return { done: done === 1, value: value ?? null };
}
