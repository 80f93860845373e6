import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCodec } from '../../src/codec/codec.js';
import { compactSerializer } from '../../src/codec/compact.js';
import { BUILTIN_COMPRESSORS } from '../../src/codec/compressors.js';
import { resolveOptions } from '../../src/store/options.js';
import { V1_VALUES } from '../fixtures/compact-v1-values.js';

/** The codec throws synchronously when its codecs are synchronous: as a promise, either way. */
const settled = <T>(f: () => T | Promise<T>): Promise<T> => Promise.resolve().then(f);

const jsonRoundTrip = (v: unknown) => JSON.parse(JSON.stringify(v));
const codec = createCodec({
  serializer: compactSerializer,
  compressor: BUILTIN_COMPRESSORS.snappy,
  compressMinLength: 400,
});

/** A session as express-session stores it: Cookie#toJSON's keys in its order, then the app's data. */
const expressCookie = fc.record(
  {
    originalMaxAge: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 2 ** 40 })),
    partitioned: fc.boolean(),
    priority: fc.constantFrom('low', 'medium', 'high'),
    expires: fc.oneof(fc.constant(null), fc.date({ min: new Date(0), max: new Date(2 ** 46), noInvalidDate: true })),
    secure: fc.boolean(),
    httpOnly: fc.boolean(),
    domain: fc.domain(),
    path: fc.constantFrom('/', '/app', '/a b'),
    sameSite: fc.constantFrom('lax', 'strict', 'none', true),
  },
  { requiredKeys: ['originalMaxAge', 'expires', 'httpOnly', 'path'] },
);
const appData = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 });

describe("the 'compact' serializer", () => {
  it('gives back exactly what a JSON round trip gives, for any JSON-serialisable session', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.option(fc.nat({ max: 2 ** 47 })),
        async (s, exp) => {
          const { session, expiresAt } = await codec.decode(await codec.encode(s, exp));
          expect(session).toStrictEqual(jsonRoundTrip(s));
          expect(expiresAt).toBe(exp);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('round-trips express-session cookies, with the expiry taken from the envelope or kept', async () => {
    await fc.assert(
      fc.asyncProperty(expressCookie, appData, fc.boolean(), async (cookie, data, sameExpiry) => {
        const session = { cookie, ...data, csrf: randomBytes(16).toString('hex') };
        const exp = sameExpiry && cookie.expires instanceof Date ? cookie.expires.getTime() : 1_900_000_000_000;
        const decoded = await codec.decode(await codec.encode(session, exp));
        expect(decoded.session).toStrictEqual(jsonRoundTrip(session));
        expect(JSON.stringify(decoded.session)).toBe(JSON.stringify(session)); // key order too
      }),
      { numRuns: 500 },
    );
  });

  it('keeps odd but valid content: __proto__ keys, -0, dates, hex-looking strings, nested arrays', async () => {
    const s = JSON.parse('{"__proto__":{"admin":true},"a":"00ff","b":"DEADBEEF00","c":"deadbeef00"}');
    Object.assign(s, { z: -0, when: new Date(5), deep: [[{ x: 'abcdef0123' }]], n: Number.NaN, u: undefined });
    Object.assign(s, { holes: [undefined, () => 1, Symbol('s'), new Date(Number.NaN), Number.POSITIVE_INFINITY] });
    s.holes.length = 7; // trailing holes
    const { session } = await codec.decode(await codec.encode(s, null));
    expect(session).toStrictEqual(jsonRoundTrip(s));
    expect(Object.getPrototypeOf(session)).toBe(Object.prototype);
  });

  it('stores a typical express session in under 64 bytes, envelope included', async () => {
    const expires = new Date(Date.now() + 86_400_000);
    const session = {
      cookie: { originalMaxAge: 86_400_000, expires: expires.toISOString(), secure: false, httpOnly: true, path: '/' },
      userId: 184_467,
      csrfToken: randomBytes(16).toString('hex'),
    };
    const compact = await codec.encode(session, expires.getTime());
    const json = await createCodec({
      serializer: {
        id: 0,
        serialize: (x: unknown) => Buffer.from(JSON.stringify(x)),
        deserialize: (b: Buffer) => JSON.parse(b.toString()),
      } as never,
      compressor: null,
      compressMinLength: 0,
    }).encode(session, expires.getTime());
    expect(compact.length).toBeLessThan(64);
    expect(compact.length).toBeLessThan(json.length / 2.5);
  });
});

describe("the 'compact' serializer and values JSON converts", () => {
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

  it('gives back what a JSON round trip gives, whichever way it packs (class instances, toJSON, boxed values, Maps...)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), odd, { maxKeys: 5 }), async (s) => {
        const { session } = await codec.decode(await codec.encode(s, null));
        expect(session).toStrictEqual(jsonRoundTrip(s));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses what JSON refuses (BigInt, cycles) with an error, not a crash', async () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    for (const bad of [{ n: 10n }, cyclic, { deep: { deeper: cyclic } }]) {
      await expect(settled(() => codec.encode(bad, null))).rejects.toThrow(/cannot be serialised/);
    }
  });
});

describe("the 'compact' serializer and odd strings", () => {
  it('keeps lone surrogates and any other UTF-16 exactly as JSON does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })), async (s) => {
        const { session } = await codec.decode(await codec.encode(s, null));
        expect(session).toStrictEqual(jsonRoundTrip(s));
      }),
      { numRuns: 500 },
    );
    const truncated = { name: '😀abc'.slice(0, 1), 'k\ud800': 1, 'k\udc00': 2 };
    expect((await codec.decode(await codec.encode(truncated, null))).session).toStrictEqual(jsonRoundTrip(truncated));
  });
});

describe("values written by 0.1's 'compact' (id 1)", () => {
  it('are read as they are by the default codec, whatever it writes now', async () => {
    const defaults = resolveOptions({});
    const reader = createCodec({
      serializer: defaults.serializer,
      compressor: defaults.compressor,
      compressMinLength: defaults.compressMinLength,
    });
    expect(defaults.serializer.id).not.toBe(1);
    for (const { name, base64, expiresAt, session } of V1_VALUES) {
      const { session: got, expiresAt: exp } = await reader.decode(Buffer.from(base64, 'base64'));
      expect({ name, got, exp }).toEqual({ name, got: session, exp: expiresAt });
    }
  });
});
