import { describe, expect, it } from 'vitest';
import { ttlMsFor } from '../../src/store/ttl.js';

const now = Date.UTC(2026, 10, 25, 12, 0, 0);
const DEFAULT = 86_400_000;

describe('ttlMsFor', () => {
  it('uses cookie.expires as a Date', () => {
    expect(ttlMsFor({ cookie: { expires: new Date(now + 5000) } }, DEFAULT, now)).toBe(5000);
  });
  it('uses cookie.expires as an ISO string (after a JSON round trip)', () => {
    expect(ttlMsFor({ cookie: { expires: new Date(now + 90_000).toISOString() } }, DEFAULT, now)).toBe(90_000);
  });
  it('returns a non-positive TTL for a cookie that already expired', () => {
    expect(ttlMsFor({ cookie: { expires: new Date(now - 1) } }, DEFAULT, now)).toBeLessThanOrEqual(0);
  });
  it('falls back to the default without a cookie, with a browser-session cookie, or an unparseable date', () => {
    expect(ttlMsFor({}, DEFAULT, now)).toBe(DEFAULT);
    expect(ttlMsFor({ cookie: { expires: null } }, DEFAULT, now)).toBe(DEFAULT);
    expect(ttlMsFor({ cookie: { expires: 'not a date' } }, DEFAULT, now)).toBe(DEFAULT);
    expect(ttlMsFor(null, DEFAULT, now)).toBe(DEFAULT);
  });
});
