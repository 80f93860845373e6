import type { SessionStore as FastifySessionStore } from '@fastify/session';
import type { Session } from 'fastify';
import type { SerializerOption } from '../codec/serializers.js';
import type { RedisClient } from '../redis/connections.js';
import type { ListedSession } from '../store/listing.js';
import type { IdlessSerializer, TtlFunction } from '../store/options.js';
import type { SessionStore } from '../store/session-store.js';
import type { UserSession } from '../users/user-index.js';
import { type Callback, settle } from './callback.js';
import { type AdapterOptions, storeFrom } from './store-from.js';

/*
 * `redisession/fastify`: the store for @fastify/session. It imports nothing from express-session
 * (an optional peer an app with fastify does not have) and nothing from @fastify/session at run
 * time: only its types.
 */

export type RedisessionStoreOptions = AdapterOptions;

/**
 * A @fastify/session store backed by redisession: get/set/destroy with callbacks, as
 * @fastify/session calls them; every method also returns a promise when called without one.
 *
 *   await app.register(fastifySession, { secret, store: new RedisessionStore({ prefix: 'app:' }) })
 */
export class RedisessionStore implements FastifySessionStore {
  /** The underlying redisession store (for direct use). */
  readonly sessions: SessionStore;

  constructor(options: RedisessionStoreOptions = {}) {
    this.sessions = storeFrom(options, 'new RedisessionStore (redisession/fastify)');
  }

  /** The ioredis client the store talks through (connect-redis's `client`). */
  get client(): RedisClient {
    return this.sessions.redis;
  }
  get prefix(): string {
    return this.sessions.prefix;
  }
  get ttl(): number | TtlFunction {
    return this.sessions.ttl;
  }
  /** The `serializer` option as given ('compact' by default). */
  get serializer(): SerializerOption | IdlessSerializer {
    return this.sessions.serializer;
  }
  get scanCount(): number {
    return this.sessions.scanCount;
  }
  get disableTouch(): boolean {
    return this.sessions.disableTouch;
  }
  get disableTTL(): boolean {
    return this.sessions.disableTTL;
  }

  get(sessionId: string): Promise<Session | null>;
  get(sessionId: string, callback: Callback<Session | null>): void;
  get(sessionId: string, callback?: Callback<Session | null>) {
    return settle(this.sessions.get(sessionId) as Promise<Session | null>, callback);
  }

  set(sessionId: string, session: Session): Promise<void>;
  set(sessionId: string, session: Session, callback: Callback<void>): void;
  set(sessionId: string, session: Session, callback?: Callback<void>) {
    return settle(this.sessions.set(sessionId, session), callback);
  }

  destroy(sessionId: string): Promise<void>;
  destroy(sessionId: string, callback: Callback<void>): void;
  destroy(sessionId: string, callback?: Callback<void>) {
    return settle(this.sessions.destroy(sessionId), callback);
  }

  /** Resets the session's lifetime from its cookie (@fastify/session itself re-saves instead). */
  touch(sessionId: string, session: Session): Promise<void>;
  touch(sessionId: string, session: Session, callback: Callback<void>): void;
  touch(sessionId: string, session: Session, callback?: Callback<void>) {
    return settle(this.sessions.touch(sessionId, session), callback);
  }

  length(): Promise<number>;
  length(callback: Callback<number>): void;
  length(callback?: Callback<number>) {
    return settle(this.sessions.length(), callback);
  }

  clear(): Promise<void>;
  clear(callback: Callback<void>): void;
  clear(callback?: Callback<void>) {
    return settle(this.sessions.clear(), callback);
  }

  /** The ids of the live sessions (walks the prefix: admin use). */
  ids(): Promise<string[]>;
  ids(callback: Callback<string[]>): void;
  ids(callback?: Callback<string[]>) {
    return settle(this.sessions.ids(), callback);
  }

  /** The live sessions, each with its `id` (walks the prefix: admin use). */
  all(): Promise<ListedSession[]>;
  all(callback: Callback<ListedSession[]>): void;
  all(callback?: Callback<ListedSession[]>) {
    return settle(this.sessions.all(), callback);
  }

  /** Log out everywhere: deletes every session of the user (needs the userId option); yields how many. */
  destroyUser(userId: string | number): Promise<number>;
  destroyUser(userId: string | number, callback: Callback<number>): void;
  destroyUser(userId: string | number, callback?: Callback<number>) {
    return settle(this.sessions.destroyUser(userId), callback);
  }

  /** The user's live sessions (needs the userId option). */
  sessionsOf(userId: string | number): Promise<UserSession[]>;
  sessionsOf(userId: string | number, callback: Callback<UserSession[]>): void;
  sessionsOf(userId: string | number, callback?: Callback<UserSession[]>) {
    return settle(this.sessions.sessionsOf(userId), callback);
  }

  close(): Promise<void> {
    return this.sessions.close();
  }
}

export type { ListedSession, SessionStore };
