import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketIndexOf,
  bucketKey,
  bucketWidth,
  defaultBucketOf,
  isNamedBucket,
  namedBucketKey,
  shardIndexOf,
} from '../../src/keys/buckets.js';
import { base64urlKeyAt, defaultKeyGenerator, isCanonicalBase64url, KEY_TAG } from '../../src/keys/key-scheme.js';
import { idForLog, MAX_SESSION_ID_LENGTH, sessionIdProblem } from '../../src/keys/session-id.js';

const expressId = () => randomBytes(24).toString('base64url'); // what uid-safe(24) makes
const djangoId = () => randomBytes(16).toString('hex');

describe('session id validation', () => {
  it.each([
    ['', 'empty'],
    ['x'.repeat(MAX_SESSION_ID_LENGTH + 1), 'longer'],
    ['abc\r\nSET x', 'control'],
    ['a\u0000b', 'control'],
    ['a\u0085b', 'control'], // C1 (NEL)
    ['\ud800abc', 'surrogate'],
  ])('refuses %j', (sid, why) => {
    expect(sessionIdProblem(sid)).toContain(why);
  });

  it('accepts ids from every framework and odd but harmless ones', () => {
    for (const sid of [
      expressId(),
      djangoId(),
      randomUUID(),
      'x'.repeat(MAX_SESSION_ID_LENGTH),
      'sess*?[]',
      'ünïcødé 🍪',
    ]) {
      expect(sessionIdProblem(sid)).toBeNull();
    }
  });

  it('refuses non-strings', () => {
    expect(sessionIdProblem(undefined)).toMatch(/string/);
    expect(sessionIdProblem(42)).toMatch(/string/);
  });

  it('logs only a short prefix of an id', () => {
    const sid = 'secret-session-id-value';
    expect(idForLog(sid)).not.toContain('session-id-value');
    expect(idForLog(sid)).toContain('secret');
  });
});

describe('default key generator', () => {
  it('packs express-session ids into 1 + 24 bytes', () => {
    const key = defaultKeyGenerator(expressId());
    expect(key[0]).toBe(KEY_TAG.base64url);
    expect(key.length).toBe(25);
  });

  it('packs hex ids into half their length and uuids into 16 bytes', () => {
    expect(defaultKeyGenerator(djangoId()).length).toBe(17);
    expect(defaultKeyGenerator(djangoId())[0]).toBe(KEY_TAG.hex);
    const uuid = defaultKeyGenerator(randomUUID());
    expect([uuid[0], uuid.length]).toEqual([KEY_TAG.uuid, 17]);
  });

  it('never maps two different ids to one key, across every rule', () => {
    const zeros24 = Buffer.alloc(24);
    const ids = [
      zeros24.toString('base64url'), // base64url rule
      zeros24.toString('hex'), // hex rule, same bytes
      'abcdef0123', // hex rule
      'ABCDEF0123', // upper-case hex is not canonical: base64url rule
      'ABCDEF012', // odd length: raw
      '00000000-0000-0000-0000-000000000000', // uuid rule
      '00000000000000000000000000000000', // hex that is also valid base64url
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB', // base64url, canonical
      'AAB', // too short for base64url: raw
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // 31 chars: non-canonical base64url -> raw
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE', // 43 chars, spare bits zero: base64url
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAF', // spare bits set: raw
    ];
    const keys = ids.map((id) => defaultKeyGenerator(id).toString('hex'));
    expect(new Set(keys).size).toBe(ids.length);
  });

  it('takes the base64url rule exactly when decoding and encoding again gives the id back', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const id = fc.string({ unit: fc.constantFrom(...alphabet), minLength: 4, maxLength: 64 });
    fc.assert(
      fc.property(id, (sid) => {
        const roundTrip = Buffer.from(sid, 'base64url').toString('base64url') === sid;
        expect(isCanonicalBase64url(sid)).toBe(roundTrip);
        const key = defaultKeyGenerator(sid);
        // hex-looking ids take the hex rule first; every other canonical one is its decoded bytes
        if (key[0] === KEY_TAG.base64url) expect(key.subarray(1).equals(Buffer.from(sid, 'base64url'))).toBe(true);
        else if (roundTrip) expect(key[0]).toBe(KEY_TAG.hex);
      }),
      { numRuns: 5000 },
    );
  });

  it("base64urlKeyAt (the request path's) gives defaultKeyGenerator's key behind the room asked, or leaves the id to it", () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const id = fc.oneof(
      fc.string({ unit: fc.constantFrom(...alphabet), minLength: 0, maxLength: 300 }),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 0, maxLength: 40 }),
      fc.string({ unit: fc.constantFrom(...`${alphabet}=+/ .é\u0000\ud800`), maxLength: 40 }),
      fc.uuid(),
      fc.string({ maxLength: 40 }),
      fc.anything(),
    );
    fc.assert(
      fc.property(id, fc.nat({ max: 12 }), (sid, room) => {
        const key = base64urlKeyAt(sid, room);
        // taken only for ids the general path accepts and maps with the base64url rule, which must agree
        const general = sessionIdProblem(sid) === null ? defaultKeyGenerator(sid as string) : null;
        if (key === null) {
          // left to the general path: an id that rule would take is fine only at length 36 (a possible uuid)
          if (general?.[0] === KEY_TAG.base64url) expect((sid as string).length).toBe(36);
          return;
        }
        expect(general).not.toBeNull();
        expect(key.subarray(room).equals(general as Buffer)).toBe(true);
      }),
      { numRuns: 20_000 },
    );
    expect(base64urlKeyAt(expressId(), 3)?.length).toBe(28);
  });

  it('keeps the raw rule exact for unicode', () => {
    expect(defaultKeyGenerator('é').equals(Buffer.from([KEY_TAG.raw, 0xc3, 0xa9]))).toBe(true);
  });
});

describe('buckets', () => {
  it('writes the bucket index big-endian after the prefix, and reads it back', () => {
    const prefix = Buffer.from('rs:');
    expect(bucketWidth(256)).toBe(1);
    expect(bucketWidth(65536)).toBe(2);
    expect(bucketWidth(65537)).toBe(3);
    const key = bucketKey(prefix, 0x1234, 2);
    expect(key.equals(Buffer.from([0x72, 0x73, 0x3a, 0x00, 0x12, 0x34]))).toBe(true);
    expect(bucketIndexOf(key, prefix, 2, 65536)).toBe(0x1234);
    expect(bucketIndexOf(key, prefix, 2, 0x1000)).toBeNull(); // out of this store's range
    expect(bucketIndexOf(Buffer.from('rs:\u0000abc'), prefix, 2, 65536)).toBeNull(); // wrong length
    expect(bucketIndexOf(Buffer.from('xx:\u0000ab'), prefix, 2, 65536)).toBeNull(); // wrong prefix
    // the buckets of a store whose prefix extends ours (rs:a, 256 buckets) have the same length
    expect(bucketIndexOf(bucketKey(Buffer.from('rs:a'), 7, 1), prefix, 2, 65536)).toBeNull();
    const named = namedBucketKey(prefix, Buffer.from('eu'));
    expect(isNamedBucket(named, prefix)).toBe(true);
    expect(bucketIndexOf(named, prefix, 2, 65536)).toBeNull();
    expect(shardIndexOf(named, prefix, 2, 8)).toBe(shardIndexOf(named, prefix, 2, 8));
    expect(shardIndexOf(Buffer.from('rs:x'), prefix, 2, 8)).toBeNull();
  });

  // 64 buckets x ~200 ids: a uniform spread keeps every bucket well within [100, 300]
  // (about 7 standard deviations); a clumping scheme would not.
  const BUCKETS = 64;
  const IDS = BUCKETS * 200;
  const styles: Array<[string, (i: number) => string]> = [
    ['express-session (base64url)', () => expressId()],
    ['Django (hex)', () => djangoId()],
    ['uuid (koa-session)', () => randomUUID()],
    ['sequential strings', (i) => `user-${i}`],
    ['md5 hex of a counter', (i) => createHash('md5').update(String(i)).digest('hex')],
  ];
  it.each(styles)('spreads %s ids evenly', (_name, make) => {
    const counts = new Array<number>(BUCKETS).fill(0);
    for (let i = 0; i < IDS; i++) {
      const b = defaultBucketOf(defaultKeyGenerator(make(i)), BUCKETS);
      counts[b] = (counts[b] ?? 0) + 1;
    }
    expect(Math.min(...counts)).toBeGreaterThan(100);
    expect(Math.max(...counts)).toBeLessThan(300);
  });

  it('always lands inside [0, buckets) for odd bucket counts', () => {
    for (const buckets of [1, 3, 1000, 65536, 2 ** 24]) {
      for (let i = 0; i < 200; i++) {
        const b = defaultBucketOf(defaultKeyGenerator(i % 2 ? expressId() : `id${i}`), buckets);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(buckets);
      }
    }
  });
});
