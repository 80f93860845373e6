import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import { ConfigError, UnknownConnectionError } from '../store/errors.js';
import type { Logger } from '../store/logger.js';

export type RedisClient = Redis | Cluster;

/**
 * How to reach Redis: a `redis://` / `rediss://` URL, a unix socket path (`/run/redis.sock` or
 * `unix:///run/redis.sock`), ioredis options, or an ioredis client you created yourself.
 */
export type RedisConnection = string | RedisOptions | RedisClient;

/**
 * Defaults for clients this library creates. A web request should get an error, not wait forever:
 * while Redis is down each command is retried across at most two reconnects before it fails, and
 * a Redis that accepts the connection but does not answer (stopped, swapping, a long script) fails
 * the command after commandTimeout.
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

/** Creates a new client from a URL, socket path or options object, with CLIENT_DEFAULTS underneath. */
export function createRedisClient(spec: string | RedisOptions): Redis {
  if (typeof spec === 'string') {
    if (/^rediss?:\/\//i.test(spec)) return new Redis(spec, { ...CLIENT_DEFAULTS });
    const path = spec.replace(/^unix:\/\//i, '');
    if (path.startsWith('/') || path.startsWith('./')) return new Redis({ ...CLIENT_DEFAULTS, path });
    throw new ConfigError(`not a Redis URL or socket path: ${JSON.stringify(spec.slice(0, 40))}`);
  }
  return new Redis({ ...CLIENT_DEFAULTS, ...spec });
}

function assertConnection(name: string, value: unknown): asserts value is RedisConnection {
  if (typeof value === 'string') {
    if (!isConnectionString(value)) {
      throw new ConfigError(
        `configureRedis: connection "${name}" must be a redis:// or rediss:// URL, a unix socket path, ioredis options or an ioredis client`,
      );
    }
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`configureRedis: connection "${name}" must be a URL, socket path, options object or client`);
  }
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
  for (const [name, value] of Object.entries(config)) assertConnection(name, value);
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
export function assertUsableClient(clientOrOptions: RedisClient | RedisOptions): void {
  const keyPrefix = isRedisClient(clientOrOptions)
    ? (clientOrOptions as { options?: RedisOptions }).options?.keyPrefix
    : clientOrOptions.keyPrefix;
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
