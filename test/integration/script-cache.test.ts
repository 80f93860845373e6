import { describe, expect, it } from 'vitest';
import { sleep, storeFixture, testPrefix } from '../helpers/redis.js';
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
