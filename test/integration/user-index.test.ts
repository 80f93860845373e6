import { ConfigError, type createSessionStore } from 'redisession';
import { describe, expect, it } from 'vitest';
import { userIndexKey } from '../../src/keys/user-index-key.js';
import { sleep, storeFixture, testPrefix } from '../helpers/redis.js';

const fixture = storeFixture();
const { raw, prefixes, sid } = fixture;

function session(user: string | undefined, maxAgeMs = 60_000) {
  return {
    cookie: { originalMaxAge: maxAgeMs, expires: new Date(Date.now() + maxAgeMs).toISOString() },
    ...(user ? { passport: { user } } : {}),
  };
}

function make(mode: 'hash' | 'string', extra: Parameters<typeof createSessionStore>[0] = {}) {
  const prefix = testPrefix(`users-${mode}`);
  prefixes.push(prefix);
  const store = fixture.make({
    mode,
    prefix,
    userId: (s) => (s.passport as { user?: string } | undefined)?.user,
    ...extra,
  });
  return { store, prefix };
}

describe.each(['hash', 'string'] as const)('user index (%s mode)', (mode) => {
  it('sessionsOf leaves an entry whose session is not there yet (a write under way) to the expiry prune', async () => {
    const { store, prefix } = make(mode);
    const id = sid();
    await store.set(id, session('kate'));
    const indexKey = userIndexKey(Buffer.from(prefix), 'kate');
    const pending = Buffer.concat([Buffer.of(0x03), Buffer.from(sid(), 'base64url')]);
    await raw.hset(indexKey, pending, `${Date.now()}:${Date.now() + 60_000}`);
    expect((await store.sessionsOf('kate')).map((s) => s.id)).toEqual([id]);
    expect(await raw.hexists(indexKey, pending)).toBe(1);
  });

  it('lists and logs out every device of a user, and only that user', async () => {
    const { store } = make(mode);
    const devices = new Map<string, string[]>();
    const users = Array.from({ length: 25 }, (_, i) => `user-${i}`);
    await Promise.all(
      users.map(async (u) => {
        const ids = Array.from({ length: 4 }, sid);
        devices.set(u, ids);
        for (const id of ids) await store.set(id, session(u));
      }),
    );
    const anonymous = sid();
    await store.set(anonymous, session(undefined));

    const listed = await store.sessionsOf('user-3');
    expect(listed.map((s) => s.id).sort()).toEqual([...(devices.get('user-3') ?? [])].sort());
    for (const s of listed) {
      expect(s.expiresAt).toBeGreaterThan(Date.now() + 50_000);
      expect(s.createdAt).toBeLessThanOrEqual(Date.now());
    }

    expect(await store.destroyUser('user-3')).toBe(4);
    for (const id of devices.get('user-3') ?? []) expect(await store.get(id)).toBeNull();
    expect(await store.sessionsOf('user-3')).toEqual([]);
    for (const u of users.filter((x) => x !== 'user-3')) {
      for (const id of devices.get(u) ?? []) expect(await store.get(id)).toMatchObject({ passport: { user: u } });
    }
    expect(await store.get(anonymous)).not.toBeNull();
    expect(await store.destroyUser('nobody')).toBe(0);
  });

  it('a request still in flight cannot save a session back after destroyUser', async () => {
    const { store } = make(mode);
    const id = sid();
    await store.set(id, session('erin'));
    const loaded = await store.get(id); // the request read it ...
    expect(await store.destroyUser('erin')).toBe(1);
    await store.set(id, { ...loaded, cart: ['book'] }); // ... and saves it at its end
    expect(await store.get(id)).toBeNull();
    await store.touch(id, loaded as object);
    expect(await store.get(id)).toBeNull();
    // a fresh login afterwards is a new session and lives
    const fresh = sid();
    await store.set(fresh, session('erin'));
    expect(await store.get(fresh)).not.toBeNull();
    expect((await store.sessionsOf('erin')).map((s) => s.id)).toEqual([fresh]);
  });

  it('follows a session that changes hands, and destroy', async () => {
    const { store } = make(mode);
    const id = sid();
    await store.set(id, session('frank'));
    await store.set(id, session('grace')); // logged in as someone else on the same session
    expect(await store.sessionsOf('frank')).toEqual([]);
    expect((await store.sessionsOf('grace')).map((s) => s.id)).toEqual([id]);
    expect(await store.destroyUser('frank')).toBe(0);
    expect(await store.get(id)).toMatchObject({ passport: { user: 'grace' } });
    await store.destroy(id);
    expect(await store.sessionsOf('grace')).toEqual([]);
  });

  it('concurrent logins during destroyUser: every earlier session goes, and every survivor is indexed', async () => {
    const { store } = make(mode);
    const before = Array.from({ length: 30 }, sid);
    await Promise.all(before.map((id) => store.set(id, session('heidi'))));
    const during = Array.from({ length: 30 }, sid);
    const logins = Promise.all(during.map((id) => store.set(id, session('heidi'))));
    const destroyed = await store.destroyUser('heidi');
    await logins;
    expect(destroyed).toBeGreaterThanOrEqual(30);
    for (const id of before) expect(await store.get(id)).toBeNull();
    // a login racing with destroyUser may survive, but never unindexed: a second call gets it
    const alive: string[] = [];
    for (const id of during) if (await store.get(id)) alive.push(id);
    expect((await store.sessionsOf('heidi')).map((s) => s.id).sort()).toEqual(alive.sort());
    await store.destroyUser('heidi');
    for (const id of during) expect(await store.get(id)).toBeNull();
  });

  it('touch keeps the index expiry in step; the index expires with its sessions and sweeps prune it', async () => {
    const { store, prefix } = make(mode, { buckets: 64 });
    const a = sid();
    const b = sid();
    await store.set(a, session('ivan', 2000));
    await store.set(b, session('ivan', 60_000));
    const indexKey = userIndexKey(Buffer.from(prefix), 'ivan');
    const pttl = await raw.pttl(indexKey);
    expect(pttl).toBeGreaterThan(55_000); // at least as long as its longest session
    await store.touch(a, session('ivan', 30_000));
    const listed = await store.sessionsOf('ivan');
    expect(listed.find((s) => s.id === a)?.expiresAt).toBeGreaterThan(Date.now() + 25_000);

    const c = sid();
    await store.set(c, session('ivan', 300));
    await sleep(500);
    // the sweep's options are checked, and `dry` honoured, before any index entry is touched
    await expect(store.sweep({ graceMs: -1 })).rejects.toThrow(/graceMs/);
    expect((await store.sweep({ dry: true, grace: 0 })).userIndex).toBeUndefined();
    expect(await raw.hlen(indexKey)).toBe(3);
    const swept = await store.sweep({ graceMs: 0 });
    expect(swept.userIndex?.removed).toBeGreaterThanOrEqual(1);
    expect(await raw.hlen(indexKey)).toBe(2);

    const solo = make(mode);
    await solo.store.set(sid(), session('judy', 1000));
    const soloKey = userIndexKey(Buffer.from(solo.prefix), 'judy');
    expect(await raw.exists(soloKey)).toBe(1);
    await sleep(1200);
    expect(await raw.exists(soloKey)).toBe(0); // never outlives its sessions
  });

  it('with idSecret, lists hashed keys and no ids', async () => {
    const { store } = make(mode, { idSecret: 'a secret of at least sixteen bytes' });
    const id = sid();
    await store.set(id, session('kim'));
    const [only] = await store.sessionsOf('kim');
    expect(only?.id).toBeNull();
    expect(only?.key).toMatch(/^05[0-9a-f]{48}$/);
    expect(await store.destroyUser('kim')).toBe(1);
    expect(await store.get(id)).toBeNull();
  });
});

describe('user index options', () => {
  it('destroyUser without userId is a clear error; a bad userId return value refuses the write', async () => {
    const prefix = testPrefix('nouser');
    prefixes.push(prefix);
    const plain = fixture.make({ prefix });
    await expect(plain.destroyUser('x')).rejects.toThrow(ConfigError);
    const { store } = make('hash', { userId: (s) => s.who as string });
    await expect(store.set(sid(), { who: { id: 1 } })).rejects.toThrow(/userId/);
    const id = sid();
    await store.set(id, { who: 42 }); // numbers are fine (passport often stores them)
    expect((await store.sessionsOf(42)).map((s) => s.id)).toEqual([id]);
  });
});
