import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cryptoRandom, SESSION_SHAPES } from '../fixtures/session-shapes.mjs';
import { keysUnder, storeFixture, testPrefix } from '../helpers/redis.js';

/*
 * The corpus through a real store with its defaults, on a Redis with its defaults: each shape of at
 * most 250 bytes of JSON keeps its buckets listpacks (test/unit/session-shapes.test.ts checks the
 * bytes of many more instances without Redis).
 */

const { raw, prefixes, make, sid } = storeFixture();
/** Shapes over the limit whatever the encoding (see the unit test). */
const CANNOT_FIT = new Set(['oauth2-pkce']);

describe('the session-shape corpus in hash mode, Redis defaults', () => {
  it('is stored in values of at most hash-max-listpack-value, so every bucket stays a listpack', async () => {
    const [, limit] = (await raw.config('GET', 'hash-max-listpack-value')) as [string, string];
    expect(Number(limit)).toBe(64); // the test server runs with Redis's defaults
    const seen: Record<string, { json: number; stored: number; encoding: string }> = {};
    for (const shape of SESSION_SHAPES) {
      const prefix = testPrefix(shape.name);
      prefixes.push(prefix);
      // 4 buckets, 12 sessions: several sessions of the shape share each bucket
      const store = make({ prefix, buckets: 4 });
      let json = 0;
      for (let i = 0; i < 12; i++) {
        const id = sid();
        const session = shape.make(cryptoRandom(randomBytes));
        json = Math.max(json, JSON.stringify(session).length);
        await store.set(id, session);
        expect(await store.get(id)).toEqual(JSON.parse(JSON.stringify(session)));
      }
      let stored = 0;
      const encodings = new Set<string>();
      for (const bucket of await keysUnder(raw, prefix)) {
        encodings.add(String(await raw.object('ENCODING', bucket)));
        const values = (await raw.hvalsBuffer(bucket)) as Buffer[];
        stored = Math.max(stored, ...values.map((v) => v.length));
      }
      seen[shape.name] = { json, stored, encoding: [...encodings].join('+') };
    }
    for (const [name, { json, stored, encoding }] of Object.entries(seen)) {
      if (json > 250) continue;
      const fits = !CANNOT_FIT.has(name);
      expect({ name, small: stored <= 64, encoding }).toEqual({
        name,
        small: fits,
        encoding: fits ? 'listpack' : 'hashtable',
      });
    }
  });
});
