import type { SessionStore as FastifySessionStore } from '@fastify/session';
import type { Session } from 'fastify';
import type { ListedSession } from '../store/listing.js';
import type { SessionStore } from '../store/session-store.js';
import { type Callback, settle } from './callback.js';
import { withStoreFields } from './store-fields.js';
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
export class RedisessionStore extends withStoreFields(class {}) implements FastifySessionStore {
  readonly sessions: SessionStore;

  constructor(options: RedisessionStoreOptions = {}) {
    super();
    this.sessions = storeFrom(options, 'new RedisessionStore (redisession/fastify)');
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
}

export type { ListedSession, SessionStore };
