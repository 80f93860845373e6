import type { SessionData, SessionStore } from '../store/session-store.js';
import { type AdapterOptions, storeFrom } from './store-from.js';

/** The external store shape koa-session expects (`store` option). */
export interface KoaSessionStore {
  get(key: string, maxAge?: number | 'session', opts?: unknown): Promise<SessionData | null>;
  set(key: string, sess: object, maxAge?: number | 'session', opts?: unknown): Promise<void>;
  destroy(key: string, opts?: unknown): Promise<void>;
  /** The underlying redisession store. */
  readonly sessions: SessionStore;
}

/**
 * A koa-session external store. koa-session passes maxAge in ms, or 'session' for a browser-session
 * cookie, which lives server-side for the store's `ttl`. A `ttl` function decides over maxAge, as
 * it decides over express-session's cookie.
 *
 *   app.use(session({ store: koaStore({ prefix: 'koa:' }) }, app))
 */
export function koaStore(options: AdapterOptions = {}): KoaSessionStore {
  const sessions = storeFrom(options, 'koaStore');
  const byFunction = typeof sessions.ttl === 'function';
  return {
    sessions,
    get: (key) => sessions.get(key),
    set: (key, sess, maxAge) =>
      sessions.set(
        key,
        sess,
        !byFunction && typeof maxAge === 'number' && Number.isFinite(maxAge) ? { ttlMs: maxAge } : {},
      ),
    destroy: (key) => sessions.destroy(key),
  };
}
