import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCodec, type Decoded } from '../../src/codec/codec.js';
import { KEYS, VALUES } from '../../src/codec/compact2/dictionary.js';
import { compact2Serializer } from '../../src/codec/compact2/index.js';
import { BUILTIN_COMPRESSORS } from '../../src/codec/compressors.js';
import { decodeEnvelope } from '../../src/codec/envelope.js';
import { CorruptValueError, SessionEncodeError } from '../../src/store/errors.js';

const require = createRequire(import.meta.url);
const ExpressCookie = require('express-session/session/cookie.js');

const codec = createCodec({
  serializer: compact2Serializer,
  compressor: BUILTIN_COMPRESSORS.snappy,
  compressMinLength: 400,
});
const uncompressed = createCodec({ serializer: compact2Serializer, compressor: null, compressMinLength: 0 });
const encode = (s: unknown, exp: number | null) => codec.encode(s, exp) as Buffer;
const decode = (v: Buffer) => codec.decode(v) as Decoded;
const jsonRoundTrip = (v: unknown) => JSON.parse(JSON.stringify(v));
/**
 * Deep-equal to the session's JSON round trip, prototypes and own keys compared strictly
 * (toStrictEqual cannot compare objects with an own "constructor" key), key order included.
 */
function sameAsJson(got: unknown, session: unknown): void {
  const want = jsonRoundTrip(session);
  if (!isDeepStrictEqual(got, want)) expect(got).toStrictEqual(want); // shows the difference
  expect(JSON.stringify(got)).toBe(JSON.stringify(want));
}
/** get gives back what a JSON round trip of the session gives, and the expiry. */
function roundTrips(session: unknown, exp: number | null = null): Buffer {
  const value = encode(session, exp);
  const back = decode(value);
  sameAsJson(back.session, session);
  expect(back.expiresAt).toBe(exp);
  return value;
}
const expiry = fc.option(fc.integer({ min: 0, max: 2 ** 47 }), { nil: null });

// Strings that look like the packed kinds, and near misses that must stay strings.
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const uuidOf = (b: Uint8Array) => {
  const h = hexOf(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};
const mixCase = (s: string, mask: number) =>
  [...s].map((c, i) => ((mask >> (i % 31)) & 1 ? c.toUpperCase() : c)).join('');
const lookalike = fc.oneof(
  fc
    .uint8Array({ minLength: 16, maxLength: 16 })
    .chain((b) => fc.constantFrom(uuidOf(b), uuidOf(b).toUpperCase(), mixCase(uuidOf(b), 0b1010), `{${uuidOf(b)}}`)),
  fc
    .uint8Array({ minLength: 1, maxLength: 40 })
    .chain((b) =>
      fc.constantFrom(hexOf(b), hexOf(b).toUpperCase(), mixCase(hexOf(b), 0b101), `${hexOf(b)}0`, `0x${hexOf(b)}`),
    ),
  fc.uint8Array({ minLength: 1, maxLength: 48 }).chain((b) => {
    const buf = Buffer.from(b);
    const b64 = buf.toString('base64');
    const url = buf.toString('base64url');
    // near misses: stray bits in the last character, wrong or missing padding, mixed alphabets
    const stray = url.length > 1 ? url.slice(0, -1) + (url.endsWith('A') ? 'B' : 'A') : url;
    return fc.constantFrom(
      b64,
      url,
      `${url}==`.slice(0, url.length + ((4 - (url.length % 4)) % 4)),
      b64.replace(/=+$/, ''),
      stray,
      `${b64}=`,
      `${url}-+`,
      b64.replace(/=/g, '.'),
    );
  }),
  fc
    .date({ min: new Date(-62_167_219_200_000), max: new Date(253_402_300_799_999), noInvalidDate: true })
    .chain((d) => {
      const iso = d.toISOString();
      return fc.constantFrom(
        iso,
        iso.replace('Z', '123Z'), // microseconds
        iso.replace('Z', '+02:00'), // an offset
        iso.replace('Z', 'z'),
        iso.replace(/\.\d{3}/, ''), // no milliseconds
        iso.replace('T', ' '),
        iso.replace(/-(\d\d)T/, '-31T'), // maybe an impossible day
      );
    }),
  fc.bigInt({ min: 0n, max: 10n ** 20n }).chain((n) => fc.constantFrom(String(n), `0${n}`, `${n}.0`, `-${n}`, ` ${n}`)),
  fc.constantFrom(...VALUES.filter((v) => typeof v === 'string'), 'Lax ', 'LAX', '//', ''),
);
const key = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(...KEYS, '__proto__', 'constructor', 'toJSON', '0', '10', '4294967295', ''),
  fc.string({ minLength: 92, maxLength: 120 }),
);
const leaf = fc.oneof(
  lookalike,
  fc.string({ unit: 'binary' }),
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 5e-324, 19.99, 0.1 + 0.2, -1.5, 86_400_000, 1e300),
  fc.boolean(),
  fc.constant(null),
);
const tree = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 8 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 8 }),
})).object;

describe("the 'compact' serializer, format 2", () => {
  it('gives back exactly what a JSON round trip gives, for any JSON', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), expiry, (s, exp) => {
        roundTrips(s, exp);
      }),
      { numRuns: 500 },
    );
  });

  it('and for trees of strings that look binary but may not be, odd numbers and odd keys', () => {
    fc.assert(
      fc.property(tree, expiry, (s, exp) => {
        roundTrips(s, exp);
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips express-session cookies (the real Cookie class), expiry from the envelope or stored', () => {
    const options = fc.record(
      {
        maxAge: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 2 ** 40 }), fc.constantFrom(86_400_000, 60_000)),
        secure: fc.oneof(fc.boolean(), fc.constant('auto')),
        httpOnly: fc.boolean(),
        path: fc.constantFrom('/', '/app', ''),
        domain: fc.domain(),
        sameSite: fc.constantFrom('lax', 'strict', 'none', true, false, 'Lax'),
        partitioned: fc.boolean(),
        priority: fc.constantFrom('low', 'medium', 'high'),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(options, fc.constantFrom('envelope', 'other', 'none'), (opts, exp) => {
        const cookie = new ExpressCookie(opts);
        const session = { cookie, user: 7 };
        const expires = cookie.expires instanceof Date ? cookie.expires.getTime() : null;
        roundTrips(
          session,
          exp === 'envelope' && expires !== null ? expires : exp === 'none' ? null : 1_900_000_000_000,
        );
        roundTrips(jsonRoundTrip(session), expires); // a cookie that went through JSON once (expires a string)
      }),
      { numRuns: 500 },
    );
  });

  it("stores cookie.expires as the envelope's expiry when they agree, and nothing else that way", () => {
    const exp = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
    const iso = new Date(exp).toISOString();
    const cookie = { originalMaxAge: 86_400_000, expires: iso, httpOnly: true, path: '/' };
    const folded = encode({ cookie }, exp);
    expect(folded.length).toBe(1 + 6 + 1 + 3 + 1); // header, expiry, key, cookie tag + flags, maxAge
    expect(encode({ cookie }, exp + 1).length).toBeGreaterThan(folded.length);
    // an app date equal to the expiry is kept as its own value: a touch moving the expiry must not move it
    const other = { cookie, validUntil: iso, nested: { expires: iso } };
    const moved = decode(Buffer.concat([Buffer.from([0xb1]), Buffer.alloc(6), encode(other, exp).subarray(7)]));
    expect(moved.session).toMatchObject({ validUntil: iso, nested: { expires: iso } });
    expect((moved.session as { cookie: { expires: string } }).cookie.expires).toBe(new Date(0).toISOString());
  });

  it('gives back what JSON gives for class instances, toJSON, boxed values, Maps, sparse arrays...', () => {
    class Point {
      constructor(
        public x: number,
        public y: number,
      ) {}
      norm() {
        return Math.hypot(this.x, this.y);
      }
    }
    const odd = fc.oneof(
      fc.anything({
        withBoxedValues: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withNullPrototype: true,
        withSparseArray: true,
        withTypedArray: true,
        withObjectString: true,
        maxDepth: 3,
      }),
      fc.tuple(fc.integer(), fc.integer()).map(([x, y]) => new Point(x, y)),
      fc.jsonValue().map((v) => ({ toJSON: () => v })),
      fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, undefined, () => 1, Symbol('s'), new Date(Number.NaN)),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), odd, { maxKeys: 5 }), expiry, (s, exp) => {
        sameAsJson(decode(encode(s, exp)).session, s);
      }),
      { numRuns: 500 },
    );
  });

  it('calls toJSON once, with the key JSON would pass', () => {
    const seen: string[] = [];
    const probe = (v: unknown) => ({
      toJSON(k: string) {
        seen.push(k);
        return v;
      },
    });
    const session = {
      a: probe(1),
      list: [probe('x'), probe(undefined)],
      cookie: probe({ path: '/' }),
      d: probe(new Date(0)),
    };
    const value = encode(session, null);
    expect(seen).toEqual(['a', '0', '1', 'cookie', 'd']);
    sameAsJson(decode(value).session, session);
    // the session itself may have a toJSON too
    roundTrips({ toJSON: () => ({ user: 1 }) });
    expect(() => encode({ toJSON: () => [1] }, null)).toThrow(/not an object/);
  });

  it('keeps the cases JSON itself gets subtle: __proto__ keys, -0, lone surrogates, big and tiny numbers', () => {
    const s = JSON.parse('{"__proto__":{"admin":true},"constructor":1,"0":"first"}');
    Object.assign(s, { z: -0, big: 2 ** 64, tiny: 5e-324, price: 19.99, neg: -1.25, lone: 'a\ud800b', 'k\udfff': 1 });
    const back = decode(roundTrips(s, 1_000)).session as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)[0]).toBe('0');
    expect(Object.is(back.z, 0)).toBe(true);
  });

  it('objects and arrays of any size (counts past the 15 that fit in the tag byte)', () => {
    for (const n of [15, 16, 127, 128, 300, 20_000]) {
      roundTrips({ o: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i % 2 ? undefined : i])) });
      roundTrips({ a: Array.from({ length: n }, (_, i) => (i % 3 ? i : `s${i}`)) });
    }
    roundTrips(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, { [`x${i}`]: [i] }])));
  });

  it('stores sessions nested deeper than its limit as JSON text, and refuses cycles and BigInt', () => {
    let deep: unknown = { leaf: 'a0b1c2d3' };
    for (let i = 0; i < 2000; i++) deep = i % 2 ? { d: deep } : [deep];
    const value = uncompressed.encode({ deep }, 5) as Buffer;
    expect(decodeEnvelope(value).payload[0]).toBe(0xff);
    // (deep-equal helpers overflow the stack at this depth: compare the JSON)
    expect(JSON.stringify(decode(value).session)).toBe(JSON.stringify({ deep }));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    expect(() => encode(cyclic, null)).toThrow(SessionEncodeError);
    expect(() => encode({ n: 10n }, null)).toThrow(SessionEncodeError);
    expect(() => encode({ n: [Object(10n)] }, null)).toThrow(SessionEncodeError);
  });

  it('packs binary-looking strings to their bytes', () => {
    const token = randomBytes(32);
    const size = (value: string) => encode({ value }, null).length - 3; // header, key, tag
    expect(size(token.toString('hex'))).toBe(32 + 1);
    expect(size(token.toString('hex').toUpperCase())).toBe(32 + 1);
    expect(size(token.toString('base64url'))).toBe(32 + 1);
    expect(size(token.toString('base64'))).toBe(32 + 1);
    expect(size(uuidOf(token.subarray(0, 16)))).toBe(16);
    expect(size(new Date().toISOString())).toBeLessThanOrEqual(8);
    expect(size('4217000123')).toBeLessThanOrEqual(5);
  });
});

describe('format 2 is readable forever', () => {
  it('its dictionary never changes (a change is a new format)', () => {
    const digest = createHash('sha256')
      .update(JSON.stringify([KEYS, VALUES]))
      .digest('hex');
    expect({ keys: KEYS.length, values: VALUES.length, digest }).toEqual({
      keys: 145,
      values: 61,
      digest: DICTIONARY_DIGEST,
    });
  });

  it('reads fixed bytes using every tag and key form (and still writes them so)', () => {
    for (const [session, hex] of GOLDEN) {
      const value = Buffer.from(hex, 'hex');
      expect(uncompressed.decode(value)).toEqual({ session, expiresAt: GOLDEN_EXPIRY });
      expect((uncompressed.encode(session, GOLDEN_EXPIRY) as Buffer).toString('hex')).toBe(hex);
    }
  });

  it('refuses corrupt or hostile bytes with CorruptValueError, never a crash or a huge allocation', () => {
    const good = encode(GOLDEN[0]?.[0], 1);
    for (let cut = 1; cut < good.length; cut++) {
      try {
        decode(good.subarray(0, cut));
      } catch (err) {
        expect(err).toBeInstanceOf(CorruptValueError);
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const { session } = decode(Buffer.concat([Buffer.from([0xb0]), bytes]));
          expect(typeof session).toBe('object');
        } catch (err) {
          expect(err).toBeInstanceOf(CorruptValueError);
        }
      }),
      { numRuns: 3000 },
    );
    // counts that claim more than the value holds
    for (const payload of [
      [0x00, 0xcc, 0xff, 0xff, 0xff, 0x0f],
      [0x00, 0xcd, 0xff, 0xff, 0xff, 0x0f],
      [0x00, 0xca, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    ]) {
      expect(() => decode(Buffer.from([0xb0, ...payload]))).toThrow(CorruptValueError);
    }
  });
});

const DICTIONARY_DIGEST = '404d433570a465df9f98901fdd4d0bfe23cd7ba2cc5043cb90f7730a33e3681d';
const GOLDEN_EXPIRY = Date.UTC(2031, 4, 6, 7, 8, 9, 123);
const GOLDEN_ISO = new Date(GOLDEN_EXPIRY).toISOString();
/** Sessions and their bytes as format 2 first wrote them: between them, every tag and key form. */
const GOLDEN: Array<[object, string]> = [
  [
    {
      cookie: {
        originalMaxAge: 86400000,
        expires: GOLDEN_ISO,
        secure: false,
        httpOnly: true,
        path: '/',
        sameSite: 'lax',
      },
      passport: { user: 4217 },
      n: [0, 63, 64, -1, -(2 ** 40), 1.5, 19.99, 0.125, 0.0001, 1e300, null, false, true],
      s: ['', 'lax', 'hello', 'héllo', 'a\ud800', 'x'.repeat(40), 86400000],
      ids: [
        '4217000123',
        'deadbeef',
        'DEADBEEF',
        'e7074345-ff94-4a57-af0a-fde4a8fe4535',
        'E7074345-FF94-4A57-AF0A-FDE4A8FE4535',
        '5wdDRf-UulevCv3kqP5FNe3a',
        'YWJj+/8',
        'YWJjZGU=',
        'YWJj-_8=',
      ],
      when: '2001-02-03T04:05:06.789Z',
      long: Array.from({ length: 16 }, (_, i) => i),
      wide: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
      clé: 1,
      'k\udc00': 2,
      ['k'.repeat(100)]: 3,
    },
    'b101c2b7b9c82300d99d05700eb10fc3f920a16ead003fc340c400c4ffffffffff1fc61ec79e1fc8fa01c902c59c7500883ce4377ec0c1c2a173a740614568656c6c6fca0668c3a96c6c6fcb02610000d8d31ec71c71c71c71c71c71c71c71c71c71c71c71c71c71c71c71c71c71c71c7170a3696473a9cebba1e9da0fcf04deadbeefd004deadbeefd1e7074345ff944a57af0afde4a8fe4535d2e7074345ff944a57af0afde4a8fe4535d312e7074345ff94ba57af0afde4a8fe4535eddad505616263fbffd6056162636465d405616263fbffa47768656ed7cae1cba78e39a46c6f6e67cc10000102030405060708090a0b0c0d0e0fa477696465cd10a26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606a26b3707a26b3808a26b3909a36b31300aa36b31310ba36b31320ca36b31330da36b31340ea36b31350ffc04636cc3a901fd026b0000dc02fc646b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b03',
  ],
  [
    {
      cookie: {
        expires: GOLDEN_ISO,
        originalMaxAge: 86400000,
        sameSite: 'lax',
        secure: false,
        path: '/',
        httpOnly: true,
        domain: null,
      },
      passport: 'e7074345-ff94-4a57-af0a-fde4a8fe4535',
    },
    'b101c2b7b9c82300b704d80170096105c1086006c207c00ed1e7074345ff944a57af0afde4a8fe4535',
  ],
  [
    {
      cookie: {
        originalMaxAge: 3600000,
        partitioned: true,
        priority: 'high',
        expires: '2001-02-03T04:05:06.789Z',
        secure: 'auto',
        httpOnly: false,
        domain: 'example.com',
        path: '/app',
        sameSite: 'none',
      },
    },
    'b101c2b7b9c82300d9757e6cc269d7cae1cba78e39904b6578616d706c652e636f6d442f61707063',
  ],
];
