import { randomBytes } from 'node:crypto';
import type { SessionData } from 'express-session';
import { ConfigError } from 'redisession';
import { RedisessionStore } from 'redisession/express';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { MAX_TTL_MS } from '../../src/store/ttl.js';
import { dropPrefix, rawClient, recordingLogger, redisUrl, testPrefix } from '../helpers/redis.js';
import { plantSessions, storedLife } from '../helpers/sessions.js';

/*
 * connect-redis's documented options and methods (its readme and index.ts), and express-session's
 * store contract, against the express adapter in both modes: what a connect-redis user already
 * passes and calls must mean the same thing here.
 */

const raw = rawClient();
const prefixes: string[] = [];
const stores: RedisessionStore[] = [];
afterAll(async () => {
  for (const p of prefixes) await dropPrefix(raw, p);
  await Promise.all(stores.map((s) => s.close()));
});

const sid = () => randomBytes(24).toString('base64url');
/** A session as the tests write it (other test files narrow express-session's SessionData). */
const S = (session: object) => session as unknown as SessionData;
const cookie = (ms: number | null) => ({
  originalMaxAge: ms,
  ...(ms === null ? {} : { expires: new Date(Date.now() + ms) }),
  httpOnly: true,
  path: '/',
});

describe.each(['hash', 'string'] as const)('connect-redis options and methods (%s mode)', (mode) => {
  function make(options: ConstructorParameters<typeof RedisessionStore>[0] = {}) {
    const prefix = testPrefix(`cr-${mode}`);
    prefixes.push(prefix);
    const store = new RedisessionStore({ client: redisUrl(), mode, prefix, ...options });
    stores.push(store);
    const life = async (id: string) => (await storedLife(raw, prefix, mode, id))?.lifeMs ?? null;
    return { store, prefix, life };
  }

  describe('ttl', () => {
    it('a number: seconds for a session without cookie.expires; the cookie wins when it has one', async () => {
      const { store, life } = make({ ttl: 120 });
      const a = sid();
      const b = sid();
      await store.set(a, S({ cookie: cookie(null) }));
      await store.set(b, S({ cookie: cookie(30_000) }));
      expect(await life(a)).toBeGreaterThan(115_000);
      expect(await life(a)).toBeLessThanOrEqual(120_000);
      expect(await life(b)).toBeLessThanOrEqual(30_000);
    });

    it('a function of the session: its seconds win over the cookie, for set and touch', async () => {
      const seen: unknown[] = [];
      const ttl = (sess: { remember?: boolean }) => {
        seen.push(sess);
        return sess.remember ? 3600 : 60;
      };
      const { store, life } = make({ ttl });
      expect(store.ttl).toBe(ttl);
      const a = sid();
      await store.set(a, S({ cookie: cookie(10_000), remember: true }));
      expect(await life(a)).toBeGreaterThan(3_500_000); // not the cookie's 10 s
      expect(seen[0]).toMatchObject({ remember: true });
      const b = sid();
      await store.set(b, S({ cookie: cookie(null) }));
      expect(await life(b)).toBeLessThanOrEqual(60_000);
      expect(await life(b)).toBeGreaterThan(55_000);
      await store.touch(b, S({ cookie: cookie(null), remember: true }));
      expect(await life(b)).toBeGreaterThan(3_500_000);
    });

    it('a function returning 0 or less destroys the session, as connect-redis does', async () => {
      const { store, life } = make({ ttl: (s: { out?: boolean }) => (s.out ? 0 : 60) });
      const a = sid();
      await store.set(a, S({ cookie: cookie(null) }));
      expect(await life(a)).not.toBeNull();
      await store.set(a, S({ cookie: cookie(null), out: true }));
      expect(await life(a)).toBeNull();
      expect(await store.get(a)).toBeNull();
    });

    it('a function returning something that is not a number fails the write and keeps the stored session', async () => {
      const { store } = make({ ttl: (s: { v?: number }) => (s.v === 2 ? (undefined as never) : 60) });
      const a = sid();
      await store.set(a, S({ cookie: cookie(null), v: 1 }));
      await expect(store.set(a, S({ cookie: cookie(null), v: 2 }))).rejects.toThrow(
        /option "ttl": got undefined; expected the ttl function to return a number of seconds/,
      );
      expect(await store.get(a)).toMatchObject({ v: 1 });
      const failed = await new Promise<unknown>((resolve) =>
        store.set(a, S({ cookie: cookie(null), v: 2 }), (err) => resolve(err)),
      );
      expect(failed).toBeInstanceOf(ConfigError);
    });

    it('refuses a number that is not a lifetime', () => {
      expect(() => make({ ttl: 0 })).toThrow(/option "ttl": got 0/);
      expect(() => make({ ttl: '60' as never })).toThrow(/option "ttl"/);
    });
  });

  describe('disableTTL', () => {
    it('stores sessions for the longest lifetime allowed and makes touch a no-op', async () => {
      const { store, life } = make({ disableTTL: true });
      expect(store.disableTTL).toBe(true);
      const a = sid();
      await store.set(a, S({ cookie: cookie(5_000) }));
      expect(await life(a)).toBeGreaterThan(MAX_TTL_MS - 60_000); // 100 years, cookie or not
      const before = await life(a);
      await store.touch(a, S({ cookie: cookie(5_000) }));
      expect(Math.abs(((await life(a)) ?? 0) - (before ?? 0))).toBeLessThan(5_000);
    });

    it('a sweep never removes such a session (hash mode), and a cookie already expired still destroys', async () => {
      const { store, life } = make({ disableTTL: true });
      const a = sid();
      await store.set(a, S({ cookie: cookie(60_000), keep: 1 }));
      await store.sessions.sweep({ graceMs: 0 });
      expect(await store.get(a)).toMatchObject({ keep: 1 });
      await store.set(a, S({ cookie: { ...cookie(60_000), expires: new Date(Date.now() - 1000) } }));
      expect(await life(a)).toBeNull();
    });
  });

  describe('disableTouch', () => {
    it('touch does nothing; set still gives the lifetime from the cookie', async () => {
      const { store, life } = make({ disableTouch: true });
      expect(store.disableTouch).toBe(true);
      const a = sid();
      await store.set(a, S({ cookie: cookie(20_000) }));
      expect(await life(a)).toBeLessThanOrEqual(20_000);
      await store.touch(a, S({ cookie: cookie(600_000) }));
      expect(await life(a)).toBeLessThanOrEqual(20_000);
      // a touch of a session that is not there does not make one
      const b = sid();
      await store.touch(b, S({ cookie: cookie(600_000) }));
      expect(await life(b)).toBeNull();
    });

    it('refuses values that are not booleans', () => {
      expect(() => make({ disableTouch: 'yes' as never })).toThrow(
        /option "disableTouch": got "yes"; expected true or false/,
      );
      expect(() => make({ disableTTL: 1 as never })).toThrow(/option "disableTTL"/);
    });
  });

  describe('scanCount', () => {
    // (hash mode's length() also runs HSCAN inside its Lua, in bounded slices of its own: not these)
    it('is the COUNT of the SCANs behind length, ids and all', async () => {
      const { store, prefix } = make({ scanCount: 7 });
      expect(store.scanCount).toBe(7);
      const ids = Array.from({ length: 20 }, sid);
      for (const id of ids) await store.set(id, S({ cookie: cookie(60_000) }));
      const monitor = await raw.duplicate().monitor();
      const scans: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        // MONITOR sees every client of the shared server: only this store's walks (MATCH under its prefix)
        const ours = args.some((a) => a.startsWith(prefix));
        if (/^h?scan$/i.test(args[0] ?? '') && source !== 'lua' && ours) scans.push(args);
      });
      expect(await store.length()).toBe(20);
      expect((await store.sessions.ids()).sort()).toEqual([...ids].sort());
      expect(await store.all()).toHaveLength(20);
      await new Promise((r) => setTimeout(r, 100));
      monitor.disconnect();
      expect(scans.length).toBeGreaterThan(0);
      for (const args of scans) expect(args[args.indexOf('COUNT') + 1]).toBe('7');
      expect(() => make({ scanCount: 0 })).toThrow(/option "scanCount": got 0; expected an integer from 1/);
    });
  });

  describe('ids() and all()', () => {
    it('list live sessions only, all() as connect-redis 9 does: an array of sessions with their id', async () => {
      const { store, prefix } = make();
      const live = [sid(), sid(), sid()];
      for (const [i, id] of live.entries()) await store.set(id, S({ cookie: cookie(60_000), n: i }));
      const gone = sid();
      await store.set(gone, S({ cookie: cookie(60_000) }));
      await store.destroy(gone);
      if (mode === 'hash') await plantSessions(raw, prefix, 65536, 5, 0); // expired, not swept yet
      await raw.set(`${prefix}not-ours`, 'foreign data under the prefix');

      expect((await store.sessions.ids()).sort()).toEqual([...live].sort());
      const all = (await store.all()) as Array<SessionData & { id: string; n: number }>;
      expect(all.map((s) => s.id).sort()).toEqual([...live].sort());
      for (const s of all) expect(s.n).toBe(live.indexOf(s.id));
      expect(await store.length()).toBe(3);
    });

    it('answer callbacks and promises alike', async () => {
      const { store } = make();
      const id = sid();
      await store.set(id, S({ cookie: cookie(60_000) }));
      const viaCallback = await new Promise((resolve, reject) =>
        store.ids((err, ids) => (err ? reject(err) : resolve(ids))),
      );
      expect(viaCallback).toEqual([id]);
      const allViaCallback = await new Promise((resolve, reject) =>
        store.all((err, all) => (err ? reject(err) : resolve(all))),
      );
      expect(allViaCallback).toEqual([expect.objectContaining({ id })]);
    });

    it('entries() walks a page at a time (the bounded way), and every listing refuses idSecret', async () => {
      const { store } = make();
      const ids = Array.from({ length: 50 }, sid);
      for (const id of ids) await store.set(id, S({ cookie: cookie(60_000) }));
      const seen = new Set<string>();
      for await (const [id, session] of store.sessions.entries()) {
        expect(session.cookie).toBeDefined();
        seen.add(id);
      }
      expect([...seen].sort()).toEqual([...ids].sort());

      const hashed = make({ idSecret: 'a secret of sixteen bytes or more' }).store;
      await hashed.set(sid(), S({ cookie: cookie(60_000) }));
      await expect(hashed.ids()).rejects.toThrow(/ids\(\) cannot list session ids: with idSecret/);
      await expect(hashed.all()).rejects.toThrow(ConfigError);
      expect(await hashed.length()).toBe(1);
    });
  });

  describe('serializer', () => {
    const upper = {
      stringify: (s: unknown) => JSON.stringify(s).toUpperCase(),
      parse: (t: string) => JSON.parse(t.toLowerCase()),
    };

    it("takes connect-redis's { stringify, parse } without an id, and writes it as 'custom'", async () => {
      const { store, life } = make({ serializer: upper });
      expect(store.serializer).toBe(upper);
      const id = sid();
      await store.set(id, S({ cookie: cookie(60_000), user: 'ann' }));
      expect(await store.get(id)).toMatchObject({ user: 'ann' });
      expect(await life(id)).not.toBeNull();
    });

    it('keeps a class instance working (methods on its prototype, `this` inside)', async () => {
      class Wrapped {
        tag = 'v1:';
        stringify(s: unknown) {
          return this.tag + JSON.stringify(s);
        }
        parse(t: string) {
          return JSON.parse(t.slice(this.tag.length));
        }
      }
      const { store } = make({ serializer: new Wrapped() });
      const id = sid();
      await store.set(id, S({ cookie: cookie(60_000), user: 'bo' }));
      expect(await store.get(id)).toMatchObject({ user: 'bo' });
    });

    it('JSON itself is the built-in json serializer', async () => {
      const { store, prefix } = make({ serializer: JSON });
      const id = sid();
      await store.set(id, S({ cookie: cookie(60_000), user: 'cy' }));
      const stored = await storedLife(raw, prefix, mode, id);
      expect(decodeEnvelope(stored?.value as Buffer).serializer).toBe(0); // 'json'
    });

    it('changing it is never silent: old sessions are a logged miss, or readable through legacyCodecs', async () => {
      const prefix = testPrefix(`cr-${mode}-swap`);
      prefixes.push(prefix);
      const old = new RedisessionStore({ client: redisUrl(), mode, prefix, serializer: upper });
      stores.push(old);
      const id = sid();
      await old.set(id, S({ cookie: cookie(60_000), user: 'dee' }));

      const reversed = { stringify: (s: unknown) => [...JSON.stringify(s)].reverse().join(''), parse: JSON.parse };
      const { lines, logger } = recordingLogger();
      const swapped = new RedisessionStore({ client: redisUrl(), mode, prefix, serializer: reversed, logger });
      stores.push(swapped);
      expect(await swapped.get(id)).toBeNull();
      expect(lines.find((l) => l.level === 'warn')?.msg).toMatch(/cannot be decoded/);

      expect(
        () => new RedisessionStore({ client: redisUrl(), prefix, serializer: reversed, legacyCodecs: [upper] }),
      ).toThrow(/serializer id "custom" is given twice.*give the new serializer an id of its own/);
      const migrated = new RedisessionStore({
        client: redisUrl(),
        mode,
        prefix,
        serializer: { id: 9, ...reversed },
        legacyCodecs: [upper],
      });
      stores.push(migrated);
      expect(await migrated.get(id)).toMatchObject({ user: 'dee' });
    });
  });

  describe("express-session's store contract", () => {
    it('get of a missing session answers null (callback and promise), never an error', async () => {
      const { store } = make();
      expect(await store.get(sid())).toBeNull();
      const viaCallback = await new Promise((resolve) => store.get(sid(), (err, s) => resolve([err, s])));
      expect(viaCallback).toEqual([null, null]);
    });

    it('calls every callback once, on a later tick, with the error when Redis fails', async () => {
      const prefix = testPrefix('cr-down');
      const down = new RedisessionStore({
        client: { host: '127.0.0.1', port: 1, maxRetriesPerRequest: 0, retryStrategy: () => null },
        mode,
        prefix,
      });
      stores.push(down);
      let sync = true;
      const calls: unknown[] = [];
      const done = new Promise((resolve) =>
        down.get(sid(), (err) => {
          calls.push(err);
          resolve(sync);
        }),
      );
      sync = false;
      expect(await done).toBe(false);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toBeInstanceOf(Error);
    });

    it('set with an expired cookie destroys; touch never brings a destroyed session back', async () => {
      const { store, life } = make();
      const id = sid();
      await store.set(id, S({ cookie: cookie(60_000) }));
      await store.destroy(id);
      await store.touch(id, S({ cookie: cookie(60_000) }));
      expect(await life(id)).toBeNull();
      await store.set(id, S({ cookie: cookie(60_000) }));
      await store.set(id, S({ cookie: { ...cookie(60_000), expires: new Date(Date.now() - 1) } }));
      expect(await store.get(id)).toBeNull();
    });

    it('exposes the fields connect-redis users read, read-only', () => {
      const { store, prefix } = make({ ttl: 300, scanCount: 50 });
      expect(store.prefix).toBe(prefix);
      expect(store.client).toBe(store.sessions.redis);
      expect(store.ttl).toBe(300);
      expect(store.scanCount).toBe(50);
      expect(() => {
        (store as { prefix: string }).prefix = 'other:';
      }).toThrow(TypeError);
    });
  });
});
