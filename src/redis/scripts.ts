import { readFileSync } from 'node:fs';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './connections.js';
import { trimLua } from './lua-trim.js';
import { firstReply, pipelinePerKey } from './pipeline.js';

/** Every Lua script, in src/lua/ (one file each; KEYS/ARGV documented at the top of the file). */
export const SCRIPTS = {
  // one session, both modes; an optional second key (the owner's index, or a legacy copy): the
  // first argument says how many keys
  rsSessionSet: { file: 'session_set.lua', numberOfKeys: undefined },
  rsSessionTouch: { file: 'session_touch.lua', numberOfKeys: undefined },
  rsSessionShorten: { file: 'session_shorten.lua', numberOfKeys: undefined },
  rsSessionDestroy: { file: 'session_destroy.lua', numberOfKeys: undefined },
  // any number of buckets a call (on a cluster, of one slot): the first argument says how many
  rsBucketScan: { file: 'bucket_scan.lua', numberOfKeys: undefined },
  rsKeyOwned: { file: 'key_owned.lua', numberOfKeys: 1 },
  rsDeleteIfSame: { file: 'delete_if_same.lua', numberOfKeys: 1 },
  rsUserIndexAdd: { file: 'user_index_add.lua', numberOfKeys: 1 },
  rsUserIndexRevoke: { file: 'user_index_revoke.lua', numberOfKeys: 1 },
  rsUserIndexPrune: { file: 'user_index_prune.lua', numberOfKeys: 1 },
  rsLegacyMove: { file: 'legacy_move.lua', numberOfKeys: 2 },
  rsReplaceIfSame: { file: 'replace_if_same.lua', numberOfKeys: 1 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
/** Scripts called as (numberOfKeys, ...keys, ...args). */
export type ManyKeysScript =
  | 'rsBucketScan'
  | 'rsSessionSet'
  | 'rsSessionTouch'
  | 'rsSessionShorten'
  | 'rsSessionDestroy';
/** Scripts whose key count is fixed: called as (key, ...args) (rsLegacyMove: its second key first among args). */
export type SingleKeyScript = Exclude<ScriptName, ManyKeysScript>;
export type Arg = string | number | Buffer;
type ScriptCall = (key: Buffer | string, ...args: Arg[]) => Promise<unknown>;
type PipelineScriptCall = (key: Buffer | string, ...args: Arg[]) => ChainableCommander;

type ManyKeysCall<R> = (numberOfKeys: number, ...keysThenArgs: Arg[]) => R;

/** Each script, and its `...Buffer` twin (ioredis defines both) whose replies stay Buffers. */
export type ScriptedClient = RedisClient &
  Record<SingleKeyScript | `${SingleKeyScript}Buffer`, ScriptCall> &
  Record<ManyKeysScript | `${ManyKeysScript}Buffer`, ManyKeysCall<Promise<unknown>>>;
export type ScriptedPipeline = ChainableCommander &
  Record<SingleKeyScript, PipelineScriptCall> &
  Record<ManyKeysScript, ManyKeysCall<ChainableCommander>>;

/** `--- @include "name"` (as in BullMQ's scripts): the line becomes src/lua/includes/name.lua. */
const INCLUDE = /^--- @include "([a-z_]+)"$/gm;

/** Read once; src/lua next to src/redis when run from source, dist/lua next to dist/redis when built. */
const read = (file: string) => readFileSync(new URL(`../lua/${file}`, import.meta.url), 'utf8');

const sources = new Map<string, string>();
let prelude: string | undefined;
/**
 * A script's source with the shared prelude (src/lua/prelude.lua: the envelope's expiry) in front,
 * read once (also sent by fast-command.ts on the request path).
 */
export function lua(file: string): string {
  let src = sources.get(file);
  if (src === undefined) {
    prelude ??= read('prelude.lua');
    // the prelude in front of every script; `--- @include "name"` lines become src/lua/includes/name.lua;
    // then only what the script uses (lua-trim.ts: Redis runs the whole body on every call)
    src = trimLua(`${prelude}\n${read(file).replace(INCLUDE, (_, name: string) => read(`includes/${name}.lua`))}`);
    sources.set(file, src);
  }
  return src;
}

const defined = new WeakSet<object>();

/**
 * Registers our scripts on a client once (ioredis then uses EVALSHA and falls back to EVAL on
 * NOSCRIPT, per node on a cluster) and returns it typed with the script commands.
 */
export function withScripts(client: RedisClient): ScriptedClient {
  if (!defined.has(client)) {
    for (const [name, { file, numberOfKeys }] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, { numberOfKeys, lua: lua(file) });
    }
    defined.add(client);
  }
  return client as ScriptedClient;
}

/** How many of these keys are ours (key_owned.lua), deleting them when `remove`. */
export async function ownedKeys(
  client: ScriptedClient,
  keys: Buffer[],
  remove: boolean,
  /** string mode: a hash is ours only as a tombstone (key_owned.lua) */
  strings = false,
): Promise<number> {
  const flag = remove ? '1' : '0';
  const mode = strings ? 'string' : 'hash';
  const replies = await pipelinePerKey(client, keys, (pipe, key) =>
    (pipe as ScriptedPipeline).rsKeyOwned(key, flag, mode),
  );
  return replies.filter((r) => firstReply(r) === 1).length;
}
