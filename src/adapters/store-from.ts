import { ConfigError } from '../store/errors.js';
import type { SessionStoreOptions } from '../store/options.js';
import { createSessionStore, type SessionStore } from '../store/session-store.js';

/** What every adapter takes: the store's options, or `{ store }` to wrap a store made earlier. */
export type AdapterOptions = SessionStoreOptions | { store: SessionStore };

const METHODS = ['get', 'set', 'touch', 'destroy', 'length', 'clear'] as const;

/**
 * The store an adapter serves. `{ store }` takes nothing else (options beside it would be
 * silently ignored: the store already has its own), and must be a redisession store.
 */
export function storeFrom(options: AdapterOptions | undefined, where: string): SessionStore {
  const o = (options ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new ConfigError(`${where}: expected an object of options, or { store }`);
  }
  if (!('store' in o) || o.store === undefined) return createSessionStore(o as SessionStoreOptions);
  const others = Object.keys(o).filter((k) => k !== 'store' && o[k] !== undefined);
  if (others.length > 0) {
    throw new ConfigError(
      `${where}: { store } takes no other options (got ${others.map((k) => `"${k}"`).join(', ')}): the store has its own; pass them to createSessionStore`,
    );
  }
  const store = o.store as Record<string, unknown> | null;
  const missing = METHODS.filter((m) => typeof store?.[m] !== 'function');
  if (missing.length > 0) {
    throw new ConfigError(
      `${where}: "store" must be a store from createSessionStore (it has no ${missing.join(', ')}); to configure a new one, pass its options instead of { store }`,
    );
  }
  return store as unknown as SessionStore;
}
