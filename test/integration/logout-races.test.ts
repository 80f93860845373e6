import { Redis } from 'ioredis';
import { ConfigError, createSessionStore, type SessionStore, type SessionStoreOptions } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../src/codec/envelope.js';
import { everySplit, intercept, type Unit } from '../helpers/interleave.js';
import { redisUrl, sleep, storeFixture, testPrefix } from '../helpers/redis.js';
import { ownedSession, owner, plantValue, storedValue } from '../helpers/sessions.js';

/*
 * The log-out races of issue 13, each made deterministic: one operation is stopped after each of
 * its commands in turn (a real client whose commands are held back), the competing operation runs
 * to completion from another client in that gap, and the outcome is checked for every split.
 */

const fixture = storeFixture();
const { raw, prefixes, sid } = fixture;
const clients: Redis[] = [];
const ownStores: SessionStore[] = [];

afterAll(async () => {
  await Promise.all(ownStores.map((s) => s.close()));
  for (const c of clients) c.disconnect();
});

const session = ownedSession;

/** A store on a client of its own (connected), so that its commands can be held back. */
async function ownStore(options: SessionStoreOptions): Promise<{ store: SessionStore; client: Redis }> {
  const client = new Redis(redisUrl());
  clients.push(client);
  await client.ping();
  const store = createSessionStore({ ...options, redis: client });
  ownStores.push(store);
  return { store, client };
}

const envelopeExpiringAt = (at: number) =>
  encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: at }, Buffer.from('{"u":1}'));

function prefixFor(label: string): string {
  const p = testPrefix(label);
  prefixes.push(p);
  return p;
}

describe.each(['hash', 'string'] as const)('log-out races (%s mode)', (mode) => {
  it('a stale touch with a short cookie never hides a live session from destroyUser (issue 13, 1)', async () => {
    const store = fixture.make({ mode, prefix: prefixFor('stale-touch'), userId: owner });
    const id = sid();
    // a slow request loaded { cart: [] }; meanwhile another one saved "remember me" for 30 days;
    // the slow one ends and touches its stale copy, whose cookie has 300 ms
    await store.set(id, session('ann', 30 * 86_400_000, { cart: ['book'], remember: true }));
    await store.touch(id, session('ann', 300, { cart: [] }));
    await sleep(500);
    expect(await store.get(id)).toMatchObject({ remember: true });
    expect((await store.sessionsOf('ann')).map((s) => s.id)).toEqual([id]);
    expect(await store.destroyUser('ann')).toBe(1);
    expect(await store.get(id)).toBeNull();
  });

  it('destroy racing a legacy read-through: the session stays destroyed (issue 13, 2)', async () => {
    const old = prefixFor('legacy-old');
    const prefix = prefixFor('legacy-new');
    const options = { mode, prefix, legacy: { layout: 'connect-redis' as const, prefix: old } };
    const a = await ownStore(options);
    const b = fixture.make(options);
    const plant = async () => {
      const id = sid();
      await raw.set(`${old}${id}`, JSON.stringify(session('bob')), 'EX', 600);
      return id;
    };
    const gone = async (id: string, at: number) => {
      expect(await b.get(id), `split at ${at}`).toBeNull();
      expect(await raw.exists(`${old}${id}`), `legacy key, split at ${at}`).toBe(0);
    };
    // destroy stopped at each of its commands, a read-through in the gap
    const points = await everySplit(a.client, {
      setup: plant,
      op: (id) => a.store.destroy(id),
      between: (id) => b.get(id),
      check: gone,
    });
    // the read-through stopped at each of its commands, destroy in the gap
    const claimPoints = await everySplit(a.client, {
      setup: plant,
      op: (id) => a.store.get(id),
      between: (id) => b.destroy(id),
      check: gone,
    });
    expect(points).toBeGreaterThan(1);
    expect(claimPoints).toBeGreaterThan(1);
  });

  it('destroy racing a set from another tab: destroy wins, and nothing escapes the index (issue 13, 3)', async () => {
    const prefix = prefixFor('destroy-set');
    const a = await ownStore({ mode, prefix, userId: owner });
    const b = fixture.make({ mode, prefix, userId: owner });
    await everySplit(a.client, {
      setup: async () => {
        const id = sid();
        await b.set(id, session('cat', 60_000, { v: 1 }));
        return id;
      },
      op: (id) => a.store.destroy(id),
      // a save that started before destroy returned: it must not bring the session back
      between: (id) => b.set(id, session('cat', 60_000, { v: 2 })),
      check: async (id, at) => {
        expect(await b.get(id), `split at ${at}`).toBeNull();
      },
    });
    // whatever survived must be in the index: a log out everywhere ends it
    await b.destroyUser('cat');
    expect(await b.sessionsOf('cat')).toEqual([]);
  });

  it('a login that lands while destroyUser is still ending the earlier sessions is ended too', async () => {
    const prefix = prefixFor('login-during');
    const b = fixture.make({ mode, prefix, userId: owner });
    await b.set(sid(), session('cat')); // a session destroyUser has to end: rounds trips after its revoke
    const a = await ownStore({ mode, prefix, userId: owner });
    await a.store.get(sid()); // (its layout checked)
    const held: Unit[] = [];
    let sent = 0;
    const restore = intercept(a.client, 'a', (unit) => {
      // the revoke goes; what destroyUser does next waits
      if (sent++ === 0) void unit.send();
      else held.push(unit);
    });
    const fresh = sid();
    try {
      const loggingOut = a.store.destroyUser('cat');
      for (let i = 0; held.length === 0 && i < 1000; i++) await sleep(2);
      expect(held.length).toBeGreaterThan(0);
      await sleep(3); // the login starts after the revoke's fence, while destroyUser runs
      await b.set(fresh, session('cat', 60_000, { v: 'during' }));
      restore();
      for (const unit of held.splice(0)) await unit.send();
      await loggingOut;
    } finally {
      restore();
    }
    expect(await b.get(fresh)).toBeNull();
    expect(await b.sessionsOf('cat')).toEqual([]);
  });

  it('a login right after destroyUser returns is kept (log out everywhere, then sign in again)', async () => {
    const prefix = prefixFor('login-after');
    const b = fixture.make({ mode, prefix, userId: owner });
    await b.set(sid(), session('cat'));
    let lost = 0;
    for (let i = 0; i < 100; i++) {
      await b.destroyUser('cat');
      const id = sid();
      await b.set(id, session('cat', 60_000, { i })); // the same millisecond, more often than not
      if ((await b.get(id)) === null) lost++;
    }
    expect(lost).toBe(0);
  });

  it("a store's first save, called before destroyUser but let through by its layout check after it, stays logged out", async () => {
    // (found by the model check: the save's time was taken after the check's round trip, later than the fence)
    const prefix = prefixFor('first-save');
    const b = fixture.make({ mode, prefix, userId: owner });
    const id = sid();
    await b.set(sid(), session('dog')); // (the store's layout is recorded)
    // a login in flight: the index does not know the session, only destroyUser's fence can refuse it
    const a = await ownStore({ mode, prefix, userId: owner }); // a new instance: its layout is not checked yet
    const held: Unit[] = [];
    const restore = intercept(a.client, 'a', (unit) => held.push(unit));
    try {
      const saving = a.store.set(id, session('cat', 60_000, { v: 2 }));
      for (let i = 0; held.length === 0 && i < 1000; i++) await sleep(2); // the layout check's read, held back
      expect(held.length).toBeGreaterThan(0);
      await b.destroyUser('cat');
      restore();
      for (const unit of held.splice(0)) await unit.send();
      await saving;
    } finally {
      restore();
    }
    expect(await b.get(id)).toBeNull();
    expect(await b.sessionsOf('cat')).toEqual([]);
  });

  it('an instance that cannot decode a session leaves its index entry alone (issue 13, 5)', async () => {
    const prefix = prefixFor('rolling');
    // a rolling deploy that adds a custom serializer: the new instances write with it
    const serializer = {
      id: 'b64json',
      stringify: (s: unknown) => Buffer.from(JSON.stringify(s)).toString('base64'),
      parse: (t: string) => JSON.parse(Buffer.from(t, 'base64').toString()),
    };
    const upgraded = fixture.make({ mode, prefix, userId: owner, serializer });
    const old = fixture.make({ mode, prefix, userId: owner });
    const id = sid();
    await upgraded.set(id, session('dan'));
    expect(await old.get(id)).toBeNull(); // the old instance cannot read it (and leaves it: onCorrupt 'ignore')
    await old.sessionsOf('dan'); // dan looks at his devices on an old instance
    expect(await upgraded.destroyUser('dan')).toBe(1); // then logs out everywhere on a new one
    expect(await upgraded.get(id)).toBeNull();
    // listed on either instance (it is in dan's index: unreadable is no proof of another owner),
    // and a log out everywhere from the old instance ends it too
    const again = sid();
    await upgraded.set(again, session('dan'));
    expect((await old.sessionsOf('dan')).map((s) => s.id)).toEqual([again]);
    expect((await upgraded.sessionsOf('dan')).map((s) => s.id)).toEqual([again]);
    expect(await old.destroyUser('dan')).toBe(1);
    expect(await upgraded.get(again)).toBeNull();
  });
});

describe.each(['hash', 'string'] as const)('suspected log-out holes (%s mode)', (mode) => {
  it('a session still in the legacy layout is logged out by destroyUser too', async () => {
    const old = prefixFor('legacy-idx-old');
    const store = fixture.make({
      mode,
      prefix: prefixFor('legacy-idx'),
      userId: owner,
      legacy: { layout: 'connect-redis', prefix: old },
    });
    const id = sid();
    await raw.set(`${old}${id}`, JSON.stringify(session('eve')), 'EX', 600); // never read since the switch
    await store.destroyUser('eve');
    expect(await store.get(id)).toBeNull();
    expect(await raw.exists(`${old}${id}`)).toBe(0);
  });

  it('destroyUser leaves a session that changed hands between its ownership check and its delete', async () => {
    const prefix = prefixFor('hands');
    const a = await ownStore({ mode, prefix, userId: owner });
    const b = fixture.make({ mode, prefix, userId: owner });
    await everySplit(a.client, {
      setup: async () => {
        const id = sid();
        const fay = `fay-${sid()}`; // a user of this round only
        await b.set(id, session(fay));
        return { id, fay };
      },
      op: ({ fay }) => a.store.destroyUser(fay),
      between: ({ id }) => b.set(id, session('gus')), // logged in as someone else on the same session
      check: async ({ id }, at) => {
        const got = await b.get(id);
        if (got !== null) expect(got.user, `split at ${at}`).toBe('gus');
        // gus's session was either kept, or refused because it landed after fay's was ended (the
        // id then holds a tombstone): never deleted after it was written
        expect(await storedValue(raw, prefix, mode, id), `split at ${at}`).not.toBeNull();
      },
    });
  });

  it('a set or touch with an expired cookie ends the legacy copy too', async () => {
    const old = prefixFor('expired-old');
    const store = fixture.make({
      mode,
      prefix: prefixFor('expired'),
      legacy: { layout: 'connect-redis', prefix: old },
    });
    for (const op of ['set', 'touch'] as const) {
      const id = sid();
      await raw.set(`${old}${id}`, JSON.stringify(session('hal')), 'EX', 600);
      await store[op](id, session('hal', -1000));
      expect(await store.get(id), op).toBeNull();
      expect(await raw.exists(`${old}${id}`), op).toBe(0);
    }
  });
});

describe('the in-line sweep', () => {
  it("uses the store's sweepGrace, not a fixed 60 s", async () => {
    const prefix = prefixFor('grace');
    const store = fixture.make({ prefix, buckets: 1, inlineSweep: 1, sweepGrace: 300 });
    // a session a web server whose clock is 90 s behind still serves
    const lagging = sid();
    await plantValue(raw, prefix, 'hash', lagging, envelopeExpiringAt(Date.now() - 90_000), 1);
    for (let i = 0; i < 5; i++) await store.set(sid(), session(undefined));
    expect(await storedValue(raw, prefix, 'hash', lagging, 1)).not.toBeNull();
    // one expired longer than the grace goes
    const dead = sid();
    await plantValue(raw, prefix, 'hash', dead, envelopeExpiringAt(Date.now() - 400_000), 1);
    for (let i = 0; i < 5; i++) await store.set(sid(), session(undefined));
    expect(await storedValue(raw, prefix, 'hash', dead, 1)).toBeNull();
  });
});

describe('options', () => {
  it('a ttl that rounds to 0 ms is refused, not a store that deletes every session (issue 13, 6)', () => {
    expect(() => createSessionStore({ redis: redisUrl(), ttl: 0.0004 })).toThrow(ConfigError);
    expect(() => createSessionStore({ redis: redisUrl(), ttl: 0.0004 })).toThrow(/"ttl"/);
  });
});
