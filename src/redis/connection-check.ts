import type { ClusterOptions, RedisOptions } from 'ioredis';

/*
 * What may be given where a Redis connection is expected, and a message for everything else.
 * ioredis takes any object for options and ignores what it does not know, so a node-redis client
 * (what connect-redis users have), node-redis options or a typo used to connect to 127.0.0.1:6379
 * without a word. Every place that takes a client or options asks connectionProblem first.
 */

// Records, not lists: the compiler fails when the installed ioredis adds or drops an option.
const REDIS_OPTIONS: Record<keyof RedisOptions, true> = {
  Connector: true,
  retryStrategy: true,
  commandTimeout: true,
  blockingTimeout: true,
  blockingTimeoutGrace: true,
  socketTimeout: true,
  keepAlive: true,
  noDelay: true,
  connectionName: true,
  disableClientInfo: true,
  clientInfoTag: true,
  username: true,
  password: true,
  db: true,
  autoResubscribe: true,
  autoResendUnfulfilledCommands: true,
  reconnectOnError: true,
  readOnly: true,
  stringNumbers: true,
  protocol: true,
  replyMapping: true,
  connectTimeout: true,
  monitor: true,
  maxRetriesPerRequest: true,
  maxLoadingRetryTime: true,
  enableAutoPipelining: true,
  autoPipeliningIgnoredCommands: true,
  offlineQueue: true,
  commandQueue: true,
  enableOfflineQueue: true,
  enableReadyCheck: true,
  lazyConnect: true,
  scripts: true,
  himportFieldsets: true,
  keyPrefix: true,
  showFriendlyErrorStack: true,
  name: true,
  role: true,
  tls: true,
  sentinelUsername: true,
  sentinelPassword: true,
  sentinels: true,
  path: true,
  family: true,
  sentinelRetryStrategy: true,
  sentinelReconnectStrategy: true,
  preferredSlaves: true,
  disconnectTimeout: true,
  sentinelCommandTimeout: true,
  enableTLSForSentinelMode: true,
  sentinelTLS: true,
  natMap: true,
  updateSentinels: true,
  sentinelMaxConnections: true,
  failoverDetector: true,
  host: true,
  port: true,
};

const CLUSTER_OPTIONS: Record<keyof ClusterOptions, true> = {
  clusterRetryStrategy: true,
  enableOfflineQueue: true,
  enableReadyCheck: true,
  scaleReads: true,
  maxRedirections: true,
  retryDelayOnFailover: true,
  retryDelayOnClusterDown: true,
  retryDelayOnTryAgain: true,
  retryDelayOnMoved: true,
  slotsRefreshTimeout: true,
  slotsRefreshInterval: true,
  shardedSubscribers: true,
  clusterNodeRetryStrategy: true,
  redisOptions: true,
  lazyConnect: true,
  useSRVRecords: true,
  resolveSrv: true,
  dnsLookup: true,
  natMap: true,
  enableAutoPipelining: true,
  autoPipeliningIgnoredCommands: true,
  scripts: true,
  himportFieldsets: true,
  keyPrefix: true,
  showFriendlyErrorStack: true,
};

/** Option names of other clients (node-redis first), and what to write instead. */
const FOREIGN_OPTIONS: Record<string, string> = {
  url: 'give the URL itself as the connection (a string), not { url }',
  socket: 'ioredis takes host, port, path and tls at the top level, not under "socket"',
  database: 'ioredis calls it "db"',
  rootNodes: 'for Redis Cluster give { cluster: [{ host, port }, ...] }',
  defaults: 'for Redis Cluster give { cluster: [...], options: { redisOptions: {...} } }',
  sentinelRootNodes: 'ioredis calls it "sentinels" (with "name" for the master)',
  nodes: 'for Redis Cluster give { cluster: [{ host, port }, ...] }',
  client: 'give the client itself, not an object holding it',
  redis: 'give the client itself, not an object holding it',
};

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** The names of the classes an object was made from, nearest first (never throws). */
function classNames(value: object): string[] {
  const names: string[] = [];
  try {
    for (let p = Object.getPrototypeOf(value); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      const name = (p as { constructor?: { name?: unknown } }).constructor?.name;
      if (typeof name === 'string' && name !== '') names.push(name);
    }
  } catch {
    // a hostile proxy: the message just names less
  }
  return names;
}

/** Where a node-redis client points, without credentials: 'redis://host:port/db' or null. */
function nodeRedisTarget(client: object): string | null {
  const o = (client as { options?: Record<string, unknown> }).options;
  if (typeof o !== 'object' || o === null) return null;
  if (typeof o.url === 'string') {
    try {
      const u = new URL(o.url);
      return `${u.protocol}//${u.host}${u.pathname.length > 1 ? u.pathname : ''}`;
    } catch {
      return null;
    }
  }
  const socket = (o.socket ?? {}) as Record<string, unknown>;
  if (typeof socket.path === 'string') return `unix://${socket.path}`;
  const host = typeof socket.host === 'string' ? socket.host : '127.0.0.1';
  const port = typeof socket.port === 'number' ? socket.port : 6379;
  const db = typeof o.database === 'number' && o.database > 0 ? `/${o.database}` : '';
  return `${socket.tls ? 'rediss' : 'redis'}://${host}:${port}${db}`;
}

/** Why a node-redis client (v4/v5: createClient, createCluster, createSentinel) cannot be used. */
function nodeRedisProblem(value: object, kinds: string[]): string | null {
  const v = value as Record<string, unknown>;
  const named = kinds.find((k) => k === 'RedisClient' || k === 'RedisCluster' || k === 'RedisSentinel');
  if (!named && !(typeof v.sendCommand === 'function' && typeof v.isOpen === 'boolean')) return null;
  const speaks = 'redisession talks to Redis through ioredis and cannot use a node-redis client';
  if (named === 'RedisCluster') {
    return `a node-redis cluster (createCluster() from the "redis" package); ${speaks}. Give the same nodes as { cluster: [{ host, port }, ...] }, or an ioredis Cluster (new Cluster(nodes) from "ioredis")`;
  }
  if (named === 'RedisSentinel') {
    return `a node-redis sentinel client (createSentinel() from the "redis" package); ${speaks}. Give the same sentinels as ioredis options, { sentinels: [{ host, port }, ...], name: '<master name>' }`;
  }
  const target = nodeRedisTarget(value);
  const at = target ? `, pointing at ${target}` : '';
  const url = target ?? 'redis://host:6379';
  return `a node-redis client (createClient() from the "redis" package${at}); ${speaks}. Give the same server as a URL ('${url}', or the URL you gave createClient, password included) or as an ioredis client (new Redis(url) from "ioredis")`;
}

/** Why a plain object cannot be ioredis options, or null. */
function optionsProblem(o: Record<string, unknown>, names: Record<string, true>, what: string): string | null {
  const unknown = Object.keys(o).filter((k) => !Object.hasOwn(names, k));
  if (unknown.length > 0) {
    const hints = unknown.filter((k) => FOREIGN_OPTIONS[k]).map((k) => `"${k}": ${FOREIGN_OPTIONS[k]}`);
    const list = unknown.map((k) => `"${k}"`).join(', ');
    return `${what} with key${unknown.length > 1 ? 's' : ''} ${list} that ioredis does not know and would silently ignore${hints.length > 0 ? `; ${hints.join('; ')}` : ''}`;
  }
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === ''))
    return `${what} whose "host" is not a host name`;
  if (o.port !== undefined && !(Number.isInteger(o.port) && (o.port as number) >= 0 && (o.port as number) <= 65535)) {
    return `${what} whose "port" is not a port number (0 to 65535)`;
  }
  if (o.db !== undefined && !(Number.isInteger(o.db) && (o.db as number) >= 0))
    return `${what} whose "db" is not a whole number`;
  if (o.path !== undefined && (typeof o.path !== 'string' || o.path === ''))
    return `${what} whose "path" is not a socket path`;
  return sentinelProblem(o, what);
}

function sentinelProblem(o: Record<string, unknown>, what: string): string | null {
  const { sentinels, name } = o;
  if (sentinels === undefined || sentinels === null) {
    if (name === undefined || name === null) return null;
    return `${what} with "name" (the master name Sentinel knows) but no "sentinels": ioredis would ignore the name and connect to ${typeof o.host === 'string' ? o.host : '127.0.0.1'}; give sentinels: [{ host, port }, ...] too (the client's own name is "connectionName")`;
  }
  if (!Array.isArray(sentinels) || sentinels.length === 0) {
    return `${what} whose "sentinels" is not a non-empty array of { host, port }`;
  }
  for (const s of sentinels) {
    const ok =
      typeof s === 'object' &&
      s !== null &&
      Object.keys(s).every((k) => k === 'host' || k === 'port' || k === 'family') &&
      (s.host === undefined || (typeof s.host === 'string' && s.host !== '')) &&
      (s.port === undefined || (Number.isInteger(s.port) && s.port > 0 && s.port <= 65535)) &&
      (s.host !== undefined || s.port !== undefined);
    if (!ok) return `${what} with a sentinel that is not { host, port }: ${safeJson(s)}`;
  }
  if (typeof name !== 'string' || name === '') {
    return `${what} with "sentinels" but no "name": give the master name the sentinels monitor (sentinel monitor <name> ...)`;
  }
  return null;
}

function clusterProblem(o: Record<string, unknown>, what: string): string | null {
  const extra = Object.keys(o).filter((k) => k !== 'cluster' && k !== 'options');
  if (extra.length > 0) {
    return `${what} with ${extra.map((k) => `"${k}"`).join(', ')} beside "cluster": a cluster takes { cluster: [nodes], options } and ioredis options for each node go in options.redisOptions`;
  }
  const nodes = o.cluster;
  if (!Array.isArray(nodes) || nodes.length === 0) {
    return `${what} whose "cluster" must be a non-empty array of { host, port } or "host:port"`;
  }
  for (const n of nodes) {
    const ok =
      typeof n === 'string'
        ? /^[^\s:]+:\d{1,5}$/.test(n)
        : typeof n === 'object' && n !== null && typeof n.host === 'string' && Number.isInteger(n.port);
    if (!ok)
      return `${what} whose "cluster" must be a non-empty array of { host, port } or "host:port" (got ${safeJson(n)})`;
  }
  const options = o.options;
  if (options === undefined) return null;
  if (typeof options !== 'object' || options === null || !isPlainObject(options)) {
    return `${what} whose "options" is not an object of ioredis Cluster options`;
  }
  const problem = optionsProblem(options as Record<string, unknown>, CLUSTER_OPTIONS, 'cluster options');
  if (problem) return `${what}: ${problem}`;
  const node = (options as { redisOptions?: unknown }).redisOptions;
  if (node === undefined) return null;
  if (typeof node !== 'object' || node === null || !isPlainObject(node)) {
    return `${what} whose "options.redisOptions" is not an object of ioredis options`;
  }
  const nodeProblem = optionsProblem(node as Record<string, unknown>, REDIS_OPTIONS, 'options.redisOptions');
  return nodeProblem ? `${what}: ${nodeProblem}` : null;
}

function safeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 60 ? `${text.slice(0, 60)}…` : text;
  } catch {
    return typeof value;
  }
}

/** A short description of a value that is not a connection, for messages. */
function described(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value !== 'object') return `${typeof value} ${safeJson(value)}`;
  const kinds = classNames(value);
  return kinds.length > 0 ? `an instance of ${kinds[0]}` : 'an object';
}

export interface ConnectionRules {
  /** An ioredis client (Redis or Cluster), already made. */
  isClient: (value: unknown) => boolean;
  /** Whether ioredis options / { cluster } objects are accepted here (not by the queue helper). */
  options: boolean;
  /** What is accepted here, for the messages that do not say it themselves. */
  expected: string;
}

/**
 * Why `value` cannot be used as a connection (a sentence starting with what it is), or null when
 * it can: an ioredis client, or (with rules.options) plain ioredis options (Sentinel included) or
 * { cluster: [nodes], options }. Strings are the caller's business (names and URLs differ by place).
 */
export function connectionProblem(value: unknown, rules: ConnectionRules): string | null {
  if (rules.isClient(value)) return null;
  const expected = `; expected ${rules.expected}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return described(value) + expected;
  if (typeof (value as { then?: unknown }).then === 'function') {
    return `a Promise: give the client itself (await it first)${expected}`;
  }
  const nodeRedis = nodeRedisProblem(value, classNames(value));
  if (nodeRedis) return nodeRedis;
  if (!isPlainObject(value)) {
    return `${described(value)}, which is not an ioredis client${rules.options ? ' nor plain ioredis options' : ''}${expected}`;
  }
  if (!rules.options) return `a plain object, not a client${expected}`;
  const o = value as Record<string, unknown>;
  const problem =
    'cluster' in o ? clusterProblem(o, 'a Redis Cluster') : optionsProblem(o, REDIS_OPTIONS, 'ioredis options');
  return problem;
}
