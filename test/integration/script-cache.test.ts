import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createSessionStore } from 'redisession';
import { describe, expect, it } from 'vitest';
import { intercept } from '../helpers/interleave.js';
import { sleep, storeFixture, testPrefix } from '../helpers/redis.js';
import { startSentinels } from '../helpers/redis-cluster.js';
import { plantExpired } from '../helpers/sessions.js';

/*
 * Redis forgets scripts: SCRIPT FLUSH, a restart, a failover to a replica that never loaded them
 * (scripts replicate as their effects), and from Redis 7.4 eviction of scripts loaded with EVAL.
 * Every store operation that runs a script must then load it again by itself, on the same
 * connection, whichever way it sends it (plain call, pipeline, transaction).
 */

const fixture = storeFixture();
const { raw, prefixes, sid } = fixture;

function session(user: string | undefined, maxAgeMs = 60_000, extra: Record<string, unknown> = {}) {
  return {
    cookie: { originalMaxAge: maxAgeMs, expires: new Date(Date.now() + maxAgeMs).toISOString() },
    ...(user ? { user } : {}),
    ...extra,
  };
}

describe.each(['hash', 'string'] as const)('after SCRIPT FLUSH (%s mode)', (mode) => {
  it('every operation loads its script again, on the connection that already had it', async () => {
    const prefix = testPrefix(`flush-${mode}`);
    const old = testPrefix(`flush-old-${mode}`);
    prefixes.push(prefix, old);
    const store = fixture.make({
      mode,
      prefix,
      buckets: 64,
      userId: (s) => s.user as string | undefined,
      legacy: { layout: 'connect-redis', prefix: old },
      onCorrupt: 'delete',
    });
    const anon = sid();
    const mine = sid();
    const other = sid();
    // every script loaded once on this connection first
    await store.set(anon, session(undefined));
    await store.set(mine, session('ivy'));
    await store.touch(mine, session('ivy', 120_000));
    await store.sessionsOf('ivy');
    await store.sweep({ graceMs: 0 });
    await store.length();

    const steps: Array<[string, () => Promise<unknown>]> = [
      ['set', () => store.set(anon, session(undefined, 60_000, { n: 2 }))],
      ['set with an owner', () => store.set(mine, session('ivy', 60_000, { n: 2 }))],
      ['touch', () => store.touch(anon, session(undefined, 180_000, { n: 2 }))],
      ['touch with an owner', () => store.touch(mine, session('ivy', 180_000, { n: 2 }))],
      ['a second set with an owner', () => store.set(other, session('ivy'))],
      [
        'legacy read-through',
        async () => {
          const id = sid();
          await raw.set(`${old}${id}`, JSON.stringify(session('ivy')), 'EX', 60);
          expect(await store.get(id)).toMatchObject({ user: 'ivy' });
        },
      ],
      ['sessionsOf', async () => expect((await store.sessionsOf('ivy')).length).toBe(3)],
      [
        'sweep',
        async () => {
          if (mode === 'hash') await plantExpired(raw, prefix, 5, 64);
          await store.sweep({ graceMs: 0 });
        },
      ],
      ['length', async () => expect(await store.length()).toBe(4)],
      ['destroy', () => store.destroy(anon)],
      ['destroyUser', async () => expect(await store.destroyUser('ivy')).toBe(3)],
      ['clear', () => store.clear()],
    ];
    for (const [what, step] of steps) {
      await raw.script('FLUSH');
      await expect(step(), what).resolves.not.toThrow();
    }
    expect(await store.get(anon)).toBeNull();
    expect(await store.get(mine)).toBeNull();
    expect(await store.length()).toBe(0);
  });

  it('a set with an owner recovers at once, not on the next connection', async () => {
    const prefix = testPrefix(`flush-owner-${mode}`);
    prefixes.push(prefix);
    const store = fixture.make({ mode, prefix, userId: (s) => s.user as string | undefined });
    const id = sid();
    await store.set(id, session('jo'));
    for (let i = 0; i < 3; i++) {
      await raw.script('FLUSH');
      await store.set(id, session('jo', 60_000, { i }));
      await store.touch(id, session('jo', 90_000, { i }));
      await sleep(1);
      expect(await store.get(id)).toMatchObject({ i });
    }
  });
});

describe('transactions', () => {
  it('no operation sends a script inside MULTI, where ioredis cannot load it again after NOSCRIPT', async () => {
    const client = new Redis(fixture.raw.options);
    await client.ping();
    const names: string[] = [];
    const restore = intercept(client, 'spy', (unit) => {
      names.push(...unit.names);
      void unit.send();
    });
    const old = testPrefix('no-multi-old');
    prefixes.push(old);
    for (const mode of ['hash', 'string'] as const) {
      // a prefix per mode: the store's manifest records its mode
      const prefix = testPrefix(`no-multi-${mode}`);
      prefixes.push(prefix);
      const store = createSessionStore({
        redis: client,
        mode,
        prefix,
        buckets: 8,
        userId: (s) => s.user as string | undefined,
        legacy: { layout: 'connect-redis', prefix: old },
      });
      const id = sid();
      await store.set(id, session('lou'));
      await store.touch(id, session('lou', 120_000));
      await store.touch(id, session('lou', 1000));
      await raw.set(`${old}${sid()}`, JSON.stringify(session('lou')), 'EX', 60);
      await store.sessionsOf('lou');
      await store.sweep({ graceMs: 0 });
      await store.length();
      await store.destroy(id);
      await store.destroyUser('lou');
      await store.clear();
    }
    restore();
    client.disconnect();
    expect(names).toContain('evalsha');
    expect(names.filter((n) => n === 'multi' || n === 'exec')).toEqual([]);
  });
});

describe('after a failover to a replica that never loaded the scripts (Sentinel)', () => {
  it('every operation works on the promoted replica, on connections that had the scripts before', async () => {
    const topo = await startSentinels();
    const redis = { sentinels: topo.sentinels, name: topo.masterName };
    const prefix = testPrefix('sentinel-scripts');
    const old = testPrefix('sentinel-scripts-old');
    const store = createSessionStore({
      redis,
      prefix,
      buckets: 64,
      userId: (s) => s.user as string | undefined,
      legacy: { layout: 'connect-redis', prefix: old },
    });
    const direct = new Redis({ ...redis, maxRetriesPerRequest: 1 });
    direct.on('error', () => {});
    try {
      const ids = Array.from({ length: 20 }, sid);
      await Promise.all(ids.map((id) => store.set(id, session('kim'))));
      await store.touch(ids[0] as string, session('kim', 120_000));
      await store.sessionsOf('kim');
      await store.sweep({ graceMs: 0 });
      const replica = new Redis(topo.replica.port, '127.0.0.1');
      await replica.call('WAIT', '0', '0').catch(() => {});
      // scripts replicate as their effects: the replica never loaded ours
      expect(await replica.script('EXISTS', sha('session_set.lua'), sha('user_index_revoke.lua'))).toEqual([0, 0]);
      replica.disconnect();
      await direct.call('WAIT', '1', '2000');
      await topo.master.stop(true);
      for (let i = 0; (await topo.currentMasterPort()) !== topo.replica.port; i++) {
        if (i > 300) throw new Error('no failover within 30 s');
        await sleep(100);
      }
      // each operation once, through the same store (ioredis reconnects it to the new master)
      const again = sid();
      await retrying(() => store.set(again, session('kim')));
      await store.set(ids[1] as string, session('kim', 60_000, { n: 2 }));
      await store.touch(ids[1] as string, session('kim', 180_000, { n: 2 }));
      const moved = sid();
      await retrying(() => direct.set(`${old}${moved}`, JSON.stringify(session('kim')), 'EX', 60));
      expect(await store.get(moved)).toMatchObject({ user: 'kim' }); // the legacy read-through
      expect((await store.sessionsOf('kim')).length).toBe(22);
      await store.sweep({ graceMs: 0 });
      expect(await store.length()).toBe(22);
      await store.destroy(ids[2] as string);
      expect(await store.destroyUser('kim')).toBe(21);
      for (const id of [...ids, again, moved]) expect(await store.get(id)).toBeNull();
      await store.clear();
    } finally {
      await store.close();
      direct.disconnect();
      await topo.destroy();
    }
  }, 60_000);
});

/** A script as the store loads it (with its includes), by SHA1. */
function sha(file: string): string {
  const read = (path: string) => readFileSync(new URL(`../../src/lua/${path}`, import.meta.url), 'utf8');
  const src = read(file).replace(/^--- @include "([a-z_]+)"$/gm, (_, name: string) => read(`includes/${name}.lua`));
  return createHash('sha1').update(src).digest('hex');
}

/** The first command after a failover may meet the old connection's error: the caller retries, as a web request would be retried by its user. */
async function retrying<T>(op: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await op();
    } catch (err) {
      if (i >= 20) throw err;
      await sleep(200);
    }
  }
}
