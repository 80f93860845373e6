import session from 'express-session';
import { silentLogger } from '../store/logger.js';
import type { SessionData, SessionStore } from '../store/session-store.js';
import { type Callback, settle } from './callback.js';
import { withStoreFields } from './store-fields.js';
import { type AdapterOptions, storeFrom } from './store-from.js';

const TOUCH_FAILED = 'redisession: touch failed; the session may not have been extended';

export type RedisessionStoreOptions = AdapterOptions;

/**
 * An express-session Store backed by redisession, a drop-in for connect-redis's RedisStore: the
 * same methods (ids and all included), the same options where they mean the same thing, and the
 * same read-only fields. Every method also returns a promise when called without a callback.
 * (@fastify/session users: import from `redisession/fastify`, which needs no express-session.)
 *
 *   app.use(session({ store: new RedisessionStore({ prefix: 'app:' }), secret, resave: false }))
 */
export class RedisessionStore extends withStoreFields(session.Store) {
  readonly sessions: SessionStore;
  /** A touch failure was reported as a process warning (done once, when there is no logger). */
  #warned = false;

  constructor(options: RedisessionStoreOptions = {}) {
    super();
    this.sessions = storeFrom(options, 'new RedisessionStore');
  }

  override get(sid: string): Promise<session.SessionData | null>;
  override get(sid: string, cb: Callback<session.SessionData | null>): void;
  override get(sid: string, cb?: Callback<session.SessionData | null>) {
    return settle(this.sessions.get(sid) as Promise<session.SessionData | null>, cb);
  }

  override set(sid: string, sess: session.SessionData): Promise<void>;
  override set(sid: string, sess: session.SessionData, cb: Callback<void>): void;
  override set(sid: string, sess: session.SessionData, cb?: Callback<void>) {
    return settle(this.sessions.set(sid, sess), cb);
  }

  /**
   * express-session touches an unchanged session after the response has been written, and passes a
   * failure on to the app's error handlers then, which can only close the connection: a page already
   * sent would be cut off (or the browser's next request on that connection fail) because a
   * lifetime extension did not happen. So a failed touch is reported as done and logged as a
   * warning through the `logger` option; without one, the first failure is a process warning, so
   * a lasting cause (an ACL without the touch command, say) is not invisible. The next request that
   * needs Redis gets the error.
   */
  override touch(sid: string, sess: session.SessionData): Promise<void>;
  override touch(sid: string, sess: session.SessionData, cb: Callback<void>): void;
  override touch(sid: string, sess: session.SessionData, cb?: Callback<void>) {
    const touched = this.sessions.touch(sid, sess).catch((err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      const logger = this.sessions.logger;
      if (logger && logger !== silentLogger) {
        logger.warn({ op: 'touch', reason }, TOUCH_FAILED);
      } else if (!this.#warned) {
        this.#warned = true;
        process.emitWarning(`${TOUCH_FAILED}: ${reason} (further failures are logged only through the logger option)`);
      }
    });
    return settle(touched, cb);
  }

  override destroy(sid: string): Promise<void>;
  override destroy(sid: string, cb: Callback<void>): void;
  override destroy(sid: string, cb?: Callback<void>) {
    return settle(this.sessions.destroy(sid), cb);
  }

  override length(): Promise<number>;
  override length(cb: Callback<number>): void;
  override length(cb?: Callback<number>) {
    return settle(this.sessions.length(), cb);
  }

  override clear(): Promise<void>;
  override clear(cb: Callback<void>): void;
  override clear(cb?: Callback<void>) {
    return settle(this.sessions.clear(), cb);
  }

  /** The ids of the live sessions (walks the prefix: admin use). */
  ids(): Promise<string[]>;
  ids(cb: Callback<string[]>): void;
  ids(cb?: Callback<string[]>) {
    return settle(this.sessions.ids(), cb);
  }

  /** The live sessions, an array with each session's `id` (connect-redis 9's shape; walks the prefix). */
  override all(): Promise<Array<session.SessionData & { id: string }>>;
  override all(cb: Callback<Array<session.SessionData & { id: string }>>): void;
  override all(cb?: Callback<Array<session.SessionData & { id: string }>>) {
    return settle(this.sessions.all() as Promise<Array<session.SessionData & { id: string }>>, cb);
  }
}

export type { SessionData };
