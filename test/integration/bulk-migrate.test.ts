import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/migrate/bulk.js';
import { keysUnder, storeFixture, testPrefix } from '../helpers/redis.js';

const { raw, prefixes, make, sid } = storeFixture();

function session(user: string, maxAgeMs = 600_000) {
  return { cookie: { originalMaxAge: maxAgeMs, expires: new Date(Date.now() + maxAgeMs).toISOString() }, user };
}

describe('bulk move from connect-redis', () => {
  it('moves everything with its TTL, resumes from a checkpoint, keeps newer sessions, and moves nothing twice', async () => {
    const old = testPrefix('bulk-cr');
    const prefix = testPrefix('bulk-new');
    prefixes.push(old, prefix);
    const store = make({ mode: 'hash', prefix, buckets: 128, legacy: { layout: 'connect-redis', prefix: old } });
    const ids = Array.from({ length: 120 }, sid);
    const pipe = raw.pipeline();
    for (const [i, id] of ids.entries()) pipe.set(`${old}${id}`, JSON.stringify(session(`u${i}`)), 'EX', 300);
    pipe.set(`${old}${'x'.repeat(300)}`, JSON.stringify(session('long')), 'EX', 300); // an id the store refuses: left alone
    pipe.set(`${old}${sid()}`, 'not json', 'EX', 300); // unreadable: left alone
    pipe.set(`${old}config`, '{"flags":{"beta":true}}'); // the app's own data (no cookie): not a session
    await pipe.exec();
    // a newer copy of one session already in the new layout (the user came back meanwhile)
    await store.set(ids[0] as string, session('newer'));

    const stop = new AbortController();
    const first = await runMigration(store, {
      batch: 20,
      signal: stop.signal,
      onProgress: () => stop.abort(), // stop after the first batch
    });
    expect(first.completed).toBe(false);
    expect(first.scanned).toBeGreaterThan(0);
    expect(first.scanned).toBeLessThan(122);

    const rest = await runMigration(store, { batch: 20, checkpoint: first });
    expect(rest.completed).toBe(true);
    expect(rest.moved + rest.newer).toBe(120);
    expect(rest.newer).toBe(1);
    expect(rest.skipped).toBe(2);
    expect(rest.foreign).toBe(1);

    expect(await store.get(ids[0] as string)).toMatchObject({ user: 'newer' });
    for (const [i, id] of ids.entries()) {
      if (i > 0) expect(await store.get(id)).toMatchObject({ user: `u${i}` });
    }
    expect((await keysUnder(raw, old)).length).toBe(3); // only the two it could not move, and the foreign key
    expect(await raw.get(`${old}config`)).toBe('{"flags":{"beta":true}}');

    const again = await runMigration(store, {});
    expect(again.moved).toBe(0);
    expect(again.newer).toBe(0);
  });

  it('a dry run counts and moves nothing', async () => {
    const old = testPrefix('bulk-dry');
    const prefix = testPrefix('bulk-dry-new');
    prefixes.push(old, prefix);
    const store = make({ mode: 'string', prefix, legacy: { layout: 'connect-redis', prefix: old } });
    for (let i = 0; i < 10; i++) await raw.set(`${old}${sid()}`, JSON.stringify(session('d')), 'EX', 300);
    const dry = await runMigration(store, { dryRun: true });
    expect(dry.moved).toBe(10);
    expect((await keysUnder(raw, old)).length).toBe(10);
    expect((await keysUnder(raw, prefix)).length).toBe(0);
  });
});

describe('bulk move from hash mode', () => {
  it('shards by legacy bucket range and keeps each expiry', async () => {
    const oldPrefix = testPrefix('bulk-hash');
    const prefix = testPrefix('bulk-string');
    prefixes.push(oldPrefix, prefix);
    const before = make({ mode: 'hash', prefix: oldPrefix, buckets: 64 });
    const ids = Array.from({ length: 80 }, sid);
    for (const [i, id] of ids.entries()) await before.set(id, session(`h${i}`, 120_000 + i * 1000));
    const after = make({ mode: 'string', prefix, legacy: { layout: 'hash', prefix: oldPrefix, buckets: 64 } });
    const halves = await Promise.all([
      runMigration(after, { range: { from: 0, to: 32 }, batch: 8 }),
      runMigration(after, { range: { from: 32, to: 64 }, batch: 8 }),
    ]);
    expect(halves.reduce((n, h) => n + h.moved, 0)).toBe(80);
    for (const [i, id] of ids.entries()) {
      expect(await after.get(id)).toMatchObject({ user: `h${i}` });
    }
    expect(await before.length()).toBe(0);
    // the TTL carried over: the last one had 120 s + 79 s
    const keys = await keysUnder(raw, prefix);
    const ttls = await Promise.all(keys.map((k) => raw.pttl(k)));
    expect(Math.max(...ttls)).toBeGreaterThan(190_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(199_000);
    expect(Math.min(...ttls)).toBeLessThanOrEqual(120_000);
  });

  it('walks a legacy bucket too big for one HSCAN slice', async () => {
    const oldPrefix = testPrefix('bulk-big');
    const prefix = testPrefix('bulk-big-new');
    prefixes.push(oldPrefix, prefix);
    const before = make({ mode: 'hash', prefix: oldPrefix, buckets: 1, inlineSweep: 0 });
    const ids = Array.from({ length: 1500 }, sid);
    await Promise.all(ids.map((id, i) => before.set(id, session(`b${i}`))));
    const after = make({
      mode: 'hash',
      prefix,
      buckets: 64,
      legacy: { layout: 'hash', prefix: oldPrefix, buckets: 1 },
    });
    const result = await runMigration(after, {});
    expect(result.moved).toBe(1500);
    expect(await after.get(ids[1499] as string)).toMatchObject({ user: 'b1499' });
    expect(await before.length()).toBe(0);
  });

  it('skips a bucket name holding something else (not a hash) and moves the rest', async () => {
    const oldPrefix = testPrefix('bulk-foreign');
    const prefix = testPrefix('bulk-foreign-new');
    prefixes.push(oldPrefix, prefix);
    const before = make({ mode: 'hash', prefix: oldPrefix, buckets: 4, inlineSweep: 0 });
    const ids = Array.from({ length: 40 }, sid);
    await Promise.all(ids.map((id, i) => before.set(id, session(`f${i}`))));
    // a string where bucket 2 would be: another app's key that happens to have a bucket's name
    const bucket2 = Buffer.concat([Buffer.from(oldPrefix), Buffer.of(0, 2)]);
    const inBucket2 = (await raw.hlen(bucket2)) as number;
    expect(inBucket2).toBeGreaterThan(0);
    await raw.del(bucket2);
    await raw.set(bucket2, 'not a bucket');
    const after = make({
      mode: 'hash',
      prefix,
      buckets: 64,
      legacy: { layout: 'hash', prefix: oldPrefix, buckets: 4 },
    });
    const result = await runMigration(after, {});
    expect(result).toMatchObject({ completed: true, moved: 40 - inBucket2, done: 4 });
    expect(await raw.get(bucket2)).toBe('not a bucket');
  });
});
