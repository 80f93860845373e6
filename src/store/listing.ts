import { decodeEnvelope } from '../codec/envelope.js';
import { idOfKey } from '../keys/key-scheme.js';
import type { StoredEntry } from '../modes/walk.js';
import { ConfigError } from './errors.js';
import type { SessionData } from './session-store.js';

/** A session as all() returns it: connect-redis 9's shape, the session with its `id` added. */
export type ListedSession = SessionData & { id: string };

export interface ListingSetup {
  /** The mode's walk over every stored value under the prefix. */
  entries: () => AsyncGenerator<StoredEntry[]>;
  /** Why ids cannot be told from keys (idSecret, a custom keyGenerator), or null. */
  unlistable: string | null;
  /** The session in a stored value, or null (expired, undecodable: logged by the store). */
  decode: (raw: Buffer, sid: string) => SessionData | null | Promise<SessionData | null>;
}

export interface Listing {
  ids(): Promise<string[]>;
  all(): Promise<ListedSession[]>;
  entries(): AsyncGenerator<[string, SessionData]>;
}

/**
 * ids(), all() and entries(): the live sessions under the prefix, found by walking it (SCAN), for
 * admin pages and scripts, never per request. Values that are not ours (foreign data under the
 * prefix) and expired sessions not swept yet are left out, as get() would answer null for them.
 */
export function sessionListing({ entries, unlistable, decode }: ListingSetup): Listing {
  async function* live(op: string): AsyncGenerator<{ id: string; value: Buffer }[]> {
    if (unlistable) throw new ConfigError(`${op} cannot list session ids: ${unlistable}`);
    for await (const page of entries()) {
      const now = Date.now();
      const out: { id: string; value: Buffer }[] = [];
      for (const { key, value } of page) {
        const id = idOfKey(key);
        if (id === null) continue;
        let expiresAt: number | null;
        try {
          expiresAt = decodeEnvelope(value).expiresAt;
        } catch {
          continue; // not a value this library wrote
        }
        if (expiresAt === null || expiresAt > now) out.push({ id, value });
      }
      if (out.length > 0) yield out;
    }
  }

  async function* sessions(op: string): AsyncGenerator<[string, SessionData]> {
    for await (const page of live(op)) {
      for (const { id, value } of page) {
        const session = await decode(value, id);
        if (session !== null) yield [id, session];
      }
    }
  }

  return {
    async ids() {
      // a Set: SCAN may meet a key twice, and the answer is as big as the set anyway
      const ids = new Set<string>();
      for await (const page of live('ids()')) for (const { id } of page) ids.add(id);
      return [...ids];
    },
    async all() {
      const found = new Map<string, ListedSession>();
      for await (const [id, session] of sessions('all()')) {
        session.id = id;
        found.set(id, session as ListedSession);
      }
      return [...found.values()];
    },
    entries: () => sessions('entries()'),
  };
}
