/** Every error this library throws on purpose is a RedisessionError, so callers can tell ours from Redis's. */
export class RedisessionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An option given to createSessionStore or configureRedis is missing, of the wrong type, or impossible. */
export class ConfigError extends RedisessionError {}

/** The session id was rejected by the key scheme (empty, too long, control characters, or refused by keyGenerator). */
export class InvalidSessionIdError extends RedisessionError {}

/** The session could not be turned into bytes (BigInt, a cycle, a serializer that threw). */
export class SessionEncodeError extends RedisessionError {}

/** A stored value could not be decoded. `get` never throws this: it logs and returns null. */
export class CorruptValueError extends RedisessionError {}

/** getRedis was asked for a name that configureRedis never registered. */
export class UnknownConnectionError extends RedisessionError {}

/**
 * With the `durability` option: Redis stored the write, but not enough replicas confirmed it in
 * time. The write may be lost if the master fails before they catch up; the caller was not told
 * it is safe.
 */
export class DurabilityError extends RedisessionError {}
