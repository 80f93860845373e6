import type { RedisClient } from '../redis/connections.js';
import { type Arg, requestScript } from '../redis/fast-command.js';
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
  /** The session's field in a bucket hash; NO_FIELD (empty) for a string key. */
  field: Buffer;
}

/** The field of a string-mode session: none (the scripts test for ''). A Buffer, as every argument of the request path. */
export const NO_FIELD = Buffer.alloc(0);

const SET = requestScript('rsSessionSet');
const TOUCH = requestScript('rsSessionTouch');
const SHORTEN = requestScript('rsSessionShorten');
const DESTROY = requestScript('rsSessionDestroy');

/** Runs one of the session scripts on the session's key (and the index's), sent in one pass (fast-command.ts). */
function run(
  script: typeof SET,
  client: RedisClient,
  at: SessionAt,
  args: Arg[],
  index: IndexEntry | undefined,
): Promise<unknown> {
  return index
    ? script.run(client, [at.key, index.index, at.field, ...args, index.field], 2)
    : script.run(client, [at.key, at.field, ...args], 1);
}

const WRITE: Record<number, WriteOutcome> = { 1: 'stored', 0: 'dead', [-1]: 'revoked' };
const writeOutcome = (reply: unknown): WriteOutcome => WRITE[reply as number] ?? 'stored';

export function writeSession(
  client: RedisClient,
  at: SessionAt,
  value: Buffer,
  ttlMs: number,
  now: number,
  sweep: { sample: number; graceMs: number },
  index?: IndexEntry,
): Promise<WriteOutcome> {
  return run(SET, client, at, [value, ttlMs, now, sweep.sample, sweep.graceMs], index).then(writeOutcome);
}

function touchOutcome(reply: unknown): TouchOutcome {
  if (Array.isArray(reply)) return { shorter: reply[1] as Buffer };
  return reply === 1 ? 'touched' : reply === -1 ? 'revoked' : 'missing';
}

export function touchSession(
  client: RedisClient,
  at: SessionAt,
  expiresAt: number,
  ttlMs: number,
  now: number,
  graceMs: number,
  index?: IndexEntry,
): Promise<TouchOutcome> {
  return run(TOUCH, client, at, [expiresAt, ttlMs, now, TOUCH_SLACK_MS, graceMs], index).then(touchOutcome);
}

export async function shortenSession(
  client: RedisClient,
  at: SessionAt,
  expected: Buffer,
  expiresAt: number,
  ttlMs: number,
  now: number,
  graceMs: number,
  index?: IndexEntry,
): Promise<boolean> {
  const reply = await run(SHORTEN, client, at, [expected, expiresAt, ttlMs, now, graceMs], index);
  return reply === 1;
}

export async function destroySession(
  client: RedisClient,
  at: SessionAt,
  { now, condition, legacy, minLifeMs = TOMBSTONE_MIN_MS }: DestroyOptions,
): Promise<{ done: boolean; value: Buffer | null }> {
  const args: Arg[] = [
    at.field,
    legacy?.field ?? NO_FIELD,
    now,
    Math.ceil(minLifeMs),
    condition.is,
    condition.is === 'same' ? condition.value : '',
  ];
  const [done, value] = (await (legacy
    ? DESTROY.run(client, [at.key, legacy.key, ...args], 2)
    : DESTROY.run(client, [at.key, ...args], 1))) as [number, Buffer | null];
  return { done: done === 1, value: value ?? null };
}
