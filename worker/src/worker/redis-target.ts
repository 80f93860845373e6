import { Redis, type RedisOptions } from 'ioredis';
import { coalesceWrites, type RedisClient } from 'redisession';
import { createClusterClient, createRedisClient, definedOnly } from 'redisession/internal';
import { redactUrl } from './redact.js';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where a Redis is, as the environment says: one server by URL (REDIS_URL), a Redis Cluster
 * (REDIS_CLUSTER_NODES), or a master found through Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_MASTER).
 */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | { kind: 'cluster'; nodes: HostPort[]; auth?: Auth }
  | { kind: 'sentinel'; sentinels: HostPort[]; master: string; auth?: Auth; sentinelPassword?: string };

/** ACL user and password for every node of a cluster, or for the master (and replicas) Sentinel names. */
export interface Auth {
  username?: string;
  password?: string;
}

/** "host:port,host:port" -> nodes, or null when an entry is not host:port with a port 1..65535. */
export function parseHostPorts(list: string): HostPort[] | null {
  const out: HostPort[] = [];
  for (const entry of list.split(',')) {
    const m = /^\s*([^\s:]+):(\d{1,5})\s*$/.exec(entry);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) return null;
    out.push({ host: m[1] as string, port });
  }
  return out;
}

/** For logs and error messages: never a password. */
export function describeTarget(t: RedisTarget): string {
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if (t.kind === 'url') return redactUrl(t.url);
  if (t.kind === 'cluster') return `cluster ${list(t.nodes)}`;
  return `sentinel master "${t.master}" via ${list(t.sentinels)}`;
}

/** A client for the sessions: the library's defaults (bounded retries and timeouts). */
export function sessionClient(t: RedisTarget): RedisClient {
  if (t.kind === 'url') return createRedisClient(t.url);
  if (t.kind === 'cluster') return createClusterClient({ cluster: t.nodes, options: { redisOptions: { ...t.auth } } });
  return createRedisClient(sentinelOptions(t));
}

function sentinelOptions(t: Extract<RedisTarget, { kind: 'sentinel' }>): RedisOptions {
  return {
    sentinels: t.sentinels,
    name: t.master,
    ...t.auth,
    ...definedOnly({ sentinelPassword: t.sentinelPassword }),
  };
}

/**
 * A client for BullMQ: maxRetriesPerRequest null (its blocking commands wait indefinitely) and no
 * ioredis keyPrefix (BullMQ has its own `prefix`). On a cluster the setting goes to every node.
 * Its writes are coalesced (src/redis/coalesce.ts); BullMQ's blocking connections are duplicate()s
 * of it, which are not.
 */
export function queueClient(t: RedisTarget, extra: { lazyConnect?: boolean } = {}): RedisClient {
  const opts: RedisOptions = { maxRetriesPerRequest: null, ...extra };
  if (t.kind === 'url') return coalesceWrites(new Redis(t.url, opts));
  if (t.kind === 'cluster') {
    return createClusterClient({
      cluster: t.nodes,
      options: { ...extra, redisOptions: { ...t.auth, maxRetriesPerRequest: null, commandTimeout: undefined } },
    });
  }
  return coalesceWrites(new Redis({ ...opts, ...sentinelOptions(t) }));
}
