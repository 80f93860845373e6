import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { ConfigError, UnknownConnectionError } from '../store/errors.js';
import type { Logger } from '../store/logger.js';
import { coalesceWrites } from './coalesce.js';
import { enforceCommandTimeout, takeCommandTimeout } from './command-deadline.js';
import { connectionProblem } from './connection-check.js';

export type RedisClient = Redis | Cluster;

/** A Redis Cluster node to start from: `{ host, port }` or `'host:port'`. */
export type ClusterNode = { host: string; port: number } | string;

/**
 * A Redis Cluster: some of its nodes (ioredis discovers the rest) and ioredis Cluster options.
 * `options.redisOptions` applies to the connection to each node, over CLIENT_DEFAULTS.
 */
export interface ClusterConnection {
  cluster: ClusterNode[];
  options?: ClusterOptions;
}

/**
 * How to reach Redis: a `redis://` / `rediss://` URL, a unix socket path (`/run/redis.sock` or
 * `unix:///run/redis.sock`), ioredis options (with `sentinels` and `name` for Sentinel),
 * `{ cluster: [nodes], options }` for Redis Cluster, or an ioredis client (Redis or Cluster) you
 * created yourself.
 */
export type RedisConnection = string | RedisOptions | ClusterConnection | RedisClient;

/**
 * Defaults for clients this library creates. A web request should get an error, not wait forever:
 * while Redis is down each command is retried across at most two reconnects before it fails, and
 * a Redis that accepts the connection but does not answer (stopped, swapping, a long script) fails
 * the command after commandTimeout (enforced by command-deadline.ts, not ioredis's timer per command).
 */
export const CLIENT_DEFAULTS: RedisOptions = {
  maxRetriesPerRequest: 2,
  connectTimeout: 5000,
  commandTimeout: 5000,
};

const configs = new Map<string, RedisConnection>();
const clients = new Map<string, RedisClient>();

export function isRedisClient(value: unknown): value is RedisClient {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.sendCommand === 'function' && typeof v.defineCommand === 'function';
}

export function isConnectionString(value: string): boolean {
  return /^(rediss?|unix):\/\//i.test(value) || value.startsWith('/') || value.startsWith('./');
}

/** Whether a key starting with this text has a {hash tag} (Redis Cluster then hashes only the tag). */
export function hasHashTag(text: string): boolean {
  const open = text.indexOf('{');
  return open >= 0 && text.indexOf('}', open + 1) > open + 1;
}

function isClusterConnection(value: unknown): value is ClusterConnection {
  return typeof value === 'object' && value !== null && 'cluster' in value && !isRedisClient(value);
}

/**
 * A Cluster client with CLIENT_DEFAULTS on every node connection, each writing a tick's commands
 * at once (coalesce.ts). Commands wait in the offline queue while slots are being refreshed (a
 * failover or a MOVED), then run on the right node.
 */
export function createClusterClient({ cluster, options = {} }: ClusterConnection): Cluster {
  const nodes = cluster.map((n) => {
    if (typeof n !== 'string') return n;
    const at = n.lastIndexOf(':');
    return { host: n.slice(0, at), port: Number(n.slice(at + 1)) };
  });
  const [redisOptions, timeout] = takeCommandTimeout({ ...CLIENT_DEFAULTS, ...options.redisOptions });
  return ready(new Cluster(nodes, { ...options, redisOptions }), timeout);
}

/**
 * A client as this library makes them: a tick's commands in one write (coalesce.ts), and the
 * command timeout enforced per connection rather than by a timer per command (command-deadline.ts).
 */
function ready<C extends RedisClient>(client: C, commandTimeout: number | null): C {
  if (commandTimeout !== null) enforceCommandTimeout(client, commandTimeout);
  return coalesceWrites(client);
}

function redisClient(options: RedisOptions, url?: string): Redis {
  const [rest, timeout] = takeCommandTimeout(options);
  return ready(url === undefined ? new Redis(rest) : new Redis(url, rest), timeout);
}

/**
 * Creates a new client from a URL, socket path, options object (Sentinel included) or cluster
 * description, with CLIENT_DEFAULTS underneath and a tick's commands sent in one write (coalesce.ts).
 */
export function createRedisClient(spec: string | RedisOptions | ClusterConnection): RedisClient {
  if (isClusterConnection(spec)) return createClusterClient(spec);
  if (typeof spec === 'string') {
    if (/^rediss?:\/\//i.test(spec)) return redisClient({ ...CLIENT_DEFAULTS }, spec);
    const path = spec.replace(/^unix:\/\//i, '');
    if (path.startsWith('/') || path.startsWith('./')) return redisClient({ ...CLIENT_DEFAULTS, path });
    throw new ConfigError(`not a Redis URL or socket path: ${JSON.stringify(spec.slice(0, 40))}`);
  }
  return redisClient({ ...CLIENT_DEFAULTS, ...spec });
}

/**
 * Refuses, before anything connects, what cannot reach the Redis the caller meant: a node-redis
 * client, another library's object, options with keys ioredis would ignore, a Cluster or Sentinel
 * description missing a piece (see connection-check.ts). `where` names the setting in the message;
 * `names`: whether a connection name registered with configureRedis is accepted here.
 */
export function assertConnection(
  where: string,
  value: unknown,
  { names }: { names: boolean },
): asserts value is RedisConnection {
  const accepted = `${names ? `a connection name (${knownConnectionNames().join(', ')}), ` : ''}a redis:// or rediss:// URL, a unix socket path, ioredis options, { cluster: [nodes], options } or an ioredis client`;
  if (typeof value === 'string') {
    if (isConnectionString(value) || (names && isKnownConnection(value))) return;
    const shown = JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
    throw new ConfigError(`${where}: got ${shown}; expected ${accepted}`);
  }
  const problem = connectionProblem(value, { isClient: isRedisClient, options: true, expected: accepted });
  if (problem) throw new ConfigError(`${where}: got ${problem}`);
}

/** Refuses anything but an ioredis client (where only a client will do, e.g. BullMQ's connection). */
export function assertClient(where: string, value: unknown, expected: string): asserts value is RedisClient {
  const problem = connectionProblem(value, { isClient: isRedisClient, options: false, expected });
  if (problem) throw new ConfigError(`${where}: got ${problem}`);
}

/**
 * Registers named connections (django-redisession's REDIS_CONFIG). Names already registered are
 * replaced; a client already created for a replaced name is closed once its pending commands are
 * answered, and the next getRedis call builds one from the new settings. Clients you passed in
 * yourself are never closed.
 */
export function configureRedis(config: Record<string, RedisConnection>): void {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigError('configureRedis takes an object of { name: connection }');
  }
  for (const [name, value] of Object.entries(config)) {
    assertConnection(`configureRedis: connection "${name}"`, value, { names: false });
  }
  for (const [name, value] of Object.entries(config)) {
    const old = clients.get(name);
    // QUIT, not disconnect: commands already sent on the old client still get their replies;
    // stores look their named client up on every call, so they move to the new one.
    if (old && old !== value && !isRedisClient(configs.get(name))) void quietQuit(old);
    clients.delete(name);
    configs.set(name, value);
  }
}

/** The names getRedis accepts: 'default' (localhost:6379 unless configured) and every configured name. */
export function knownConnectionNames(): string[] {
  return [...new Set(['default', ...configs.keys()])];
}

export function isKnownConnection(name: string): boolean {
  return name === 'default' || configs.has(name);
}

/** The shared client for a name, created on first use (django-redisession's get_redis). */
export function getRedis(name = 'default'): RedisClient {
  const existing = clients.get(name);
  if (existing) return existing;
  if (!isKnownConnection(name)) {
    throw new UnknownConnectionError(
      `unknown Redis connection "${name}"; known connections: ${knownConnectionNames().join(', ')} (register more with configureRedis)`,
    );
  }
  const spec = configs.get(name) ?? {};
  const client = isRedisClient(spec) ? spec : createRedisClient(spec);
  clients.set(name, client);
  return client;
}

/** Closes every shared client this module created (for tests and graceful shutdown). */
export async function closeRedisConnections(): Promise<void> {
  const closing: Promise<unknown>[] = [];
  for (const [name, client] of clients) {
    if (!isRedisClient(configs.get(name))) closing.push(quietQuit(client));
  }
  clients.clear();
  await Promise.all(closing);
}

/** QUIT when connected (flushes pending replies), else just drop the socket. Never throws. */
export async function quietQuit(client: RedisClient): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through to disconnect
    }
  }
  client.disconnect();
}

/**
 * Refuses a client (or options for one) this library cannot use: an ioredis keyPrefix would hide
 * our keys from SCAN MATCH, so length, clear and sweeps would miss them.
 */
export function assertUsableClient(clientOrOptions: RedisClient | RedisOptions | ClusterConnection): void {
  const options: (RedisOptions & ClusterOptions) | undefined = isRedisClient(clientOrOptions)
    ? (clientOrOptions as { options?: RedisOptions & ClusterOptions }).options
    : isClusterConnection(clientOrOptions)
      ? clientOrOptions.options
      : clientOrOptions;
  const keyPrefix = options?.keyPrefix || options?.redisOptions?.keyPrefix;
  if (keyPrefix) {
    throw new ConfigError(
      `the Redis client has keyPrefix ${JSON.stringify(keyPrefix)}: not supported (SCAN patterns ignore it); use the store's prefix option instead`,
    );
  }
}

interface Watch {
  loggers: Set<Logger>;
  down: boolean;
}
const watches = new WeakMap<RedisClient, Watch>();

/**
 * Logs, through every watching store's logger, when a client loses Redis and when it is back:
 * once per transition, not on every reconnect attempt. One listener pair per client however many
 * stores share it. Returns the function that stops watching.
 */
export function watchConnection(client: RedisClient, logger: Logger): () => void {
  let watch = watches.get(client);
  if (!watch) {
    const w: Watch = { loggers: new Set(), down: false };
    watch = w;
    watches.set(client, w);
    client.on('error', (err: Error & { code?: string }) => {
      if (w.down) return;
      w.down = true;
      for (const l of w.loggers)
        l.warn({ err: { message: err.message, code: err.code } }, 'redisession: Redis connection error');
    });
    client.on('ready', () => {
      if (!w.down) return;
      w.down = false;
      for (const l of w.loggers) l.warn({}, 'redisession: Redis connection is back');
    });
  }
  const w = watch;
  w.loggers.add(logger);
  return () => {
    w.loggers.delete(logger);
  };
}
