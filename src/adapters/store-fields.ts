import type { SerializerOption } from '../codec/serializers.js';
import type { RedisClient } from '../redis/connections.js';
import type { IdlessSerializer, TtlFunction } from '../store/options.js';
import type { SessionStore } from '../store/session-store.js';
import type { UserSession } from '../users/user-index.js';
import { type Callback, settle } from './callback.js';

// biome-ignore lint/suspicious/noExplicitAny: a mixin's base constructor must take any[] (TypeScript's rule)
type Constructor = abstract new (...args: any[]) => object;

/**
 * What the express and the fastify store have the same way, read from the redisession store they
 * wrap (`sessions`): connect-redis's read-only fields, log out everywhere, a user's sessions, close.
 * A mixin, because the express store must extend express-session's Store and the fastify one must
 * not (an app with fastify has no express-session).
 */
export function withStoreFields<B extends Constructor>(base: B) {
  abstract class StoreFields extends base {
    /** The underlying redisession store (for direct use). */
    abstract readonly sessions: SessionStore;

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
  return StoreFields;
}
