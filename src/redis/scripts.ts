import { readFileSync } from 'node:fs';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './connections.js';

/** Every Lua script, in src/lua/ (one file each; KEYS/ARGV documented at the top of the file). */
export const SCRIPTS = {
  rsHashSet: { file: 'hash_set.lua', numberOfKeys: 1 },
  rsHashTouch: { file: 'hash_touch.lua', numberOfKeys: 1 },
  rsBucketScan: { file: 'bucket_scan.lua', numberOfKeys: 1 },
  rsKeyOwned: { file: 'key_owned.lua', numberOfKeys: 1 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
type Arg = string | number | Buffer;
type ScriptCall = (key: Buffer | string, ...args: Arg[]) => Promise<unknown>;
type PipelineScriptCall = (key: Buffer | string, ...args: Arg[]) => ChainableCommander;

export type ScriptedClient = RedisClient & Record<ScriptName, ScriptCall>;
export type ScriptedPipeline = ChainableCommander & Record<ScriptName, PipelineScriptCall>;

const sources = new Map<string, string>();
function lua(file: string): string {
  let src = sources.get(file);
  if (src === undefined) {
    // src/lua next to src/redis when run from source; dist/lua next to dist/redis when built.
    src = readFileSync(new URL(`../lua/${file}`, import.meta.url), 'utf8');
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

export function scriptedPipeline(client: ScriptedClient): ScriptedPipeline {
  return client.pipeline() as ScriptedPipeline;
}
