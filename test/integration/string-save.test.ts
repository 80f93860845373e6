import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSessionStore, type SessionStore, type SessionStoreOptions } from 'redisession';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { STRING_TOMBSTONE_FIELD, TOMBSTONE_BYTE } from '../../src/modes/tombstone.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * String mode saves a session without an owner with one plain `SET ... PX ... GET` (no script), and
 * its tombstone is a hash, which that command refuses to write over (src/modes/string-mode.ts,
 * src/modes/tombstone.ts). What must hold: a destroyed id stays dead, an old (string) tombstone too,
 * foreign data is never written over, clear() leaves no tombstone behind. A private server, so
 * that INFO commandstats counts this file's commands only.
 */

let server: RedisServer;
let raw: Redis;
const stores: SessionStore[] = [];
beforeAll(async () => {
  server = await startRedisServer();
  raw = new Redis(server.url);
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  raw.disconnect();
  await server.destroy();
});

const sid = () => randomBytes(24).toString('base64url');
let prefix = '';
const store = (extra: Partial<SessionStoreOptions> = {}) => {
  prefix = `test:ssave:${randomBytes(4).toString('hex')}:`;
  const s = createSessionStore({ redis: server.url, mode: 'string', prefix, ...extra });
  stores.push(s);
  return s;
};
const keyOf = (id: string) => Buffer.concat([Buffer.from(prefix), defaultKeyGenerator(id)]);
const cookie = () => ({ cookie: { expires: new Date(Date.now() + 3_600_000), originalMaxAge: 3_600_000 } });

/** A tombstone as versions before the hash one wrote it: a string, 0xDE 0x00 "dead until", ending in `ms`. */
async function plantOldTombstone(key: Buffer, ms: number): Promise<void> {
  const old = Buffer.alloc(8);
  old[0] = TOMBSTONE_BYTE;
  old.writeUIntBE(Date.now() + ms, 2, 6);
  await raw.set(key, old, 'PX', ms);
}

/** Calls of each command Redis ran while `run` ran, scripts' own commands included (INFO commandstats). */
async function commandsDuring(run: () => Promise<unknown>): Promise<Record<string, number>> {
  const stats = async () => {
    const out: Record<string, number> = {};
    for (const m of (await raw.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+)/g))
      out[m[1] as string] = Number(m[2]);
    return out;
  };
  const before = await stats();
  await run();
  const after = await stats();
  const diff: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after)) {
    const d = calls - (before[name] ?? 0) - (name === 'info' ? 1 : 0);
    if (d > 0) diff[name] = d;
  }
  return diff;
}

describe('string mode: a save is one plain command, a tombstone still stops it', () => {
  it('saving a new session and saving it again are one SET each, no script', async () => {
    const s = store();
    const id = sid();
    await s.get(id); // the store checks its layout once, before its first command
    const first = await commandsDuring(() => s.set(id, { n: 1, ...cookie() }));
    const again = await commandsDuring(() => s.set(id, { n: 2, ...cookie() }));
    expect(first).toEqual({ set: 1 });
    expect(again).toEqual({ set: 1 });
    expect(await commandsDuring(() => s.get(id))).toEqual({ get: 1 });
    expect(await s.get(id)).toMatchObject({ n: 2 });
    const ttl = await raw.pttl(keyOf(id));
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  it('destroy leaves a one-field hash; a save of the id is refused, reads find nothing', async () => {
    const s = store();
    const id = sid();
    await s.set(id, { n: 1, ...cookie() });
    await s.destroy(id);
    const key = keyOf(id);
    expect(await raw.type(key)).toBe('hash');
    expect(await raw.hlen(key)).toBe(1);
    const tomb = await raw.hgetBuffer(key, STRING_TOMBSTONE_FIELD);
    expect(tomb?.[0]).toBe(TOMBSTONE_BYTE);
    expect(await raw.pttl(key)).toBeGreaterThan(50_000);
    // a save still in flight when the user logged out
    await s.set(id, { n: 2, stale: true, ...cookie() });
    await s.touch(id, { n: 1, ...cookie() });
    expect(await s.get(id)).toBeNull();
    expect(await raw.type(key)).toBe('hash');
    expect(await s.length()).toBe(0);
  });

  it('many saves racing one destroy: once destroy returned, no save brought the session back', async () => {
    const s = store();
    for (let round = 0; round < 20; round++) {
      const id = sid();
      await s.set(id, { round, ...cookie() });
      const saves = Array.from({ length: 30 }, (_, i) => s.set(id, { round, i, ...cookie() }));
      await s.destroy(id);
      await Promise.all(saves);
      await s.set(id, { round, late: true, ...cookie() });
      expect(await s.get(id)).toBeNull();
      expect(await raw.type(keyOf(id))).toBe('hash');
    }
  });

  it('a tombstone an earlier version wrote (a string) still stops a save: the id is buried again', async () => {
    const s = store();
    const id = sid();
    await s.get(id);
    const key = keyOf(id);
    await plantOldTombstone(key, 120_000);
    expect(await s.get(id)).toBeNull();
    await s.set(id, { resurrected: true, ...cookie() });
    expect(await s.get(id)).toBeNull();
    expect(await raw.type(key)).toBe('hash');
    // it stays dead at least as long as the session could have lived
    expect(await raw.pttl(key)).toBeGreaterThan(3_500_000);
  });

  it('an old tombstone buried again keeps what it had left, whatever the cookie of the stale save says', async () => {
    const s = store();
    const id = sid();
    await s.get(id);
    const key = keyOf(id);
    await plantOldTombstone(key, 600_000);
    const short = { cookie: { expires: new Date(Date.now() + 5_000), originalMaxAge: 5_000 } };
    await s.set(id, { stale: true, ...short });
    expect(await s.get(id)).toBeNull();
    expect(await raw.type(key)).toBe('hash');
    expect(await raw.pttl(key)).toBeGreaterThan(590_000);
  });

  it('a tombstone that ends between the read of the key and the read of the tombstone is a miss, not an error', async () => {
    const s = store();
    const id = sid();
    await s.get(id);
    const key = keyOf(id);
    await raw.hset(key, STRING_TOMBSTONE_FIELD, Buffer.of(TOMBSTONE_BYTE, 0, 0, 0, 0, 0, 0, 1));
    const client = s.redis as unknown as { sendCommand: (cmd: { name: string }, ...rest: unknown[]) => unknown };
    const send = client.sendCommand.bind(client);
    client.sendCommand = (cmd, ...rest) => {
      // the tombstone's TTL runs out right then
      if (cmd.name === 'hget') return raw.del(key).then(() => send(cmd, ...rest));
      return send(cmd, ...rest);
    };
    try {
      expect(await s.get(id)).toBeNull();
    } finally {
      client.sendCommand = send;
    }
  });

  it('something else at a session key is never written over, and the caller hears of it', async () => {
    const s = store();
    const id = sid();
    const key = keyOf(id);
    await raw.hset(key, 'theirs', 'v');
    await expect(s.set(id, { a: 1, ...cookie() })).rejects.toThrow(/WRONGTYPE/);
    await expect(s.get(id)).rejects.toThrow(/WRONGTYPE/);
    expect(await raw.hgetall(key)).toEqual({ theirs: 'v' });
    // a hash holding a field of that name but not a tombstone is not ours either
    await raw.hset(key, STRING_TOMBSTONE_FIELD, 'nope');
    await expect(s.set(id, { a: 1, ...cookie() })).rejects.toThrow(/WRONGTYPE/);
    expect(await raw.hgetall(key)).toEqual({ theirs: 'v', [STRING_TOMBSTONE_FIELD]: 'nope' });
    await raw.del(key);
  });

  it('clear() removes tombstones as well as sessions, and nothing else', async () => {
    const s = store();
    const ids = Array.from({ length: 6 }, sid);
    await Promise.all(ids.map((id, i) => s.set(id, { i, ...cookie() })));
    await s.destroy(ids[0] as string);
    await s.destroy(ids[1] as string);
    const foreign = `${prefix}${'z'.repeat(32)}`;
    await raw.hset(foreign, 'a', '1');
    // a hash at a session-shaped key whose value starts like an envelope (0xB1: msgpack's 17-char
    // string header too) is still not ours in string mode
    const shaped = keyOf(sid());
    await raw.hset(shaped, 'cart', Buffer.concat([Buffer.of(0xb1), Buffer.from('x'.repeat(17))]));
    expect(await s.length()).toBe(4);
    await s.clear();
    expect(await s.length()).toBe(0);
    for (const id of ids) expect(await raw.exists(keyOf(id))).toBe(0);
    expect(await raw.hgetall(foreign)).toEqual({ a: '1' });
    expect(await raw.hlen(shaped)).toBe(1);
    await raw.del(foreign, shaped);
  });

  it('a walk (entries, ids, all) goes on when sessions are destroyed under it', async () => {
    const s = store(); // one SCAN page holds them all: its later slices are read after the destroys
    const ids = Array.from({ length: 60 }, sid);
    await Promise.all(ids.map((id, i) => s.set(id, { i, ...cookie() })));
    const seen: string[] = [];
    let destroyed = false;
    for await (const [id] of s.entries()) {
      seen.push(id);
      if (!destroyed) {
        destroyed = true;
        // everything not seen yet but 20
        await Promise.all(
          ids
            .filter((x) => x !== id)
            .slice(0, 40)
            .map((x) => s.destroy(x)),
        );
      }
    }
    const gone = new Set(ids.filter((x) => x !== seen[0]).slice(0, 40));
    expect(seen.length).toBeGreaterThanOrEqual(20);
    // a key SCAN saw may have been read before its destroy: only what survived is certain
    for (const id of ids) if (!gone.has(id)) expect(seen).toContain(id);
    expect((await s.ids()).sort()).toEqual(ids.filter((x) => !gone.has(x)).sort());
  });

  it('a session with an owner still goes through the script (its index entry is written with it)', async () => {
    const s = store({ userId: (session) => (session.uid as string | undefined) ?? null });
    const id = sid();
    await s.get(id);
    const calls = await commandsDuring(() => s.set(id, { uid: 'u1', ...cookie() }));
    expect((calls.evalsha ?? 0) + (calls.eval ?? 0)).toBe(1);
    expect(calls.set).toBe(1); // the script's own
    expect((await s.sessionsOf('u1')).length).toBe(1);
    await s.destroy(id);
    await s.set(id, { uid: 'u1', ...cookie() });
    expect(await s.get(id)).toBeNull();
  });
});
