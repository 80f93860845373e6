import { requestScript } from './fast-command.js';
import { firstReply, pipelinePerKey } from './pipeline.js';
import { type Arg, SCRIPTS, type ScriptedClient, type ScriptName } from './scripts.js';

/*
 * Our scripts over many keys (sweeps, the store's admin walks, the user index prune): one call per
 * group of keys, sent through pipelinePerKey (bounded pipelines, one node's keys each on a
 * cluster, nodes in parallel, redirected calls sent again alone).
 */

/**
 * The calls of one round trip over `count` pending keys (a prefix of them is taken):
 * - on a single server, one call of the first `most`: Redis runs a client's pipelined calls back
 *   to back, so a web request arriving meanwhile waits behind this one call only;
 * - on a cluster, one call per key (the keys of one call must share a slot), every pending key,
 *   which the pipelines send NODE_PIPELINE_MAX calls at a time per node.
 * Each call is the list of its keys' indexes.
 */
export function callsOfRound(client: ScriptedClient, count: number, most: number): number[][] {
  if (!client.isCluster) return [Array.from({ length: Math.min(most, count) }, (_, i) => i)];
  return Array.from({ length: count }, (_, i) => [i]);
}

type Call = (...args: Arg[]) => unknown;

/**
 * Calls a script once per group of keys (on a cluster a group's keys must share a slot), with
 * per-group arguments after the keys; a script taking any number of keys gets the count first.
 * Replies in group order, bulk strings as Buffers; the first error is thrown. A lone call on a
 * single server goes through the request path's sender (src/redis/fast-command.ts): no pipeline,
 * and the keys encoded in one pass (a single-server sweep makes one call at a time).
 */
export async function scriptPerGroup(
  client: ScriptedClient,
  name: ScriptName,
  groups: Buffer[][],
  args: (group: Buffer[], i: number) => Arg[],
): Promise<unknown[]> {
  const counted = SCRIPTS[name].numberOfKeys === undefined;
  if (groups.length === 1 && !client.isCluster) {
    const keys = groups[0] as Buffer[];
    return [await requestScript(name).run(client, [...keys, ...args(keys, 0)], counted ? keys.length : undefined)];
  }
  const replies = await pipelinePerKey(
    client,
    groups.map((group) => group[0] as Buffer),
    (pipe, _first, i) => {
      const group = groups[i] as Buffer[];
      const call = (pipe as unknown as Record<string, Call>)[`${name}Buffer`] as Call;
      if (counted) call.call(pipe, group.length, ...group, ...args(group, i));
      else call.call(pipe, ...group, ...args(group, i));
    },
  );
  return replies.map((r) => firstReply(r));
}

/**
 * Calls a script once per key, with per-key arguments (see scriptPerGroup): replies in key order,
 * bulk strings as Buffers; the first error is thrown.
 */
export function scriptPerKey(
  client: ScriptedClient,
  name: ScriptName,
  keys: Buffer[],
  args: (key: Buffer, i: number) => Arg[],
): Promise<unknown[]> {
  return scriptPerGroup(
    client,
    name,
    keys.map((key) => [key]),
    (group, i) => args(group[0] as Buffer, i),
  );
}
