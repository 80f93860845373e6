import { describe, expect, it } from 'vitest';
import { sameData } from '../../src/store/same-data.js';

describe('sameData (may a touch shorten a session?)', () => {
  const cookie = (ms: number) => ({ originalMaxAge: ms, expires: new Date(Date.now() + ms).toISOString() });

  it('compares everything but the cookie, as JSON would carry it, key order aside', () => {
    expect(
      sameData({ cookie: cookie(60_000), user: 'a', cart: [1, 2] }, { cart: [1, 2], user: 'a', cookie: cookie(1000) }),
    ).toBe(true);
    expect(
      sameData(
        { cookie: cookie(60_000), at: '2026-01-01T00:00:00.000Z' },
        { cookie: cookie(1), at: new Date('2026-01-01T00:00:00Z') },
      ),
    ).toBe(true);
    expect(sameData({ user: 'a', cart: [1] }, { user: 'a', cart: [1, 2] })).toBe(false);
    expect(sameData({ user: 'a' }, { user: 'a', remember: true })).toBe(false);
  });

  it('a copy that cannot be compared (a BigInt, a cycle) is never the same', () => {
    const cyclic: Record<string, unknown> = { user: 'a' };
    cyclic.self = cyclic;
    expect(sameData({ user: 'a' }, cyclic)).toBe(false);
    expect(sameData({ n: 1 }, { n: 1n })).toBe(false);
  });
});
