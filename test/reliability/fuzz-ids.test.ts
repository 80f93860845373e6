import fc from 'fast-check';
import { createSessionStore, InvalidSessionIdError } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { sessionIdProblem } from '../../src/keys/session-id.js';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';

const raw = rawClient();
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await dropPrefix(raw, p);
});

// Ids of every kind: framework-shaped ones, glob and CRLF characters, unicode, very long ones.
const anyId = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{20,44}$/),
  fc.stringMatching(/^[0-9a-f]{2,64}$/),
  fc.uuid(),
  fc.constantFrom('*', '?', '[a-z]', 'sess\r\nDEL x', '\\', 'rs:*', '\u0000', 'x'.repeat(256), 'x'.repeat(257)),
);

describe('session ids are hostile input', () => {
  it('two different accepted ids never share a key', () => {
    fc.assert(
      fc.property(anyId, anyId, (a, b) => {
        fc.pre(a !== b && sessionIdProblem(a) === null && sessionIdProblem(b) === null);
        expect(defaultKeyGenerator(a).equals(defaultKeyGenerator(b))).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it.each(['hash', 'string'] as const)(
    '%s mode: every id is stored under its own key inside the prefix, or refused',
    async (mode) => {
      const prefix = testPrefix(`fuzz-${mode}`);
      prefixes.push(prefix);
      const store = createSessionStore({ redis: redisUrl(), mode, prefix, buckets: 64 });
      const accepted = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(anyId, async (id) => {
          const n = accepted.size;
          if (sessionIdProblem(id) !== null) {
            await expect(store.set(id, { n })).rejects.toThrow(InvalidSessionIdError);
            expect(await store.get(id)).toBeNull();
            return;
          }
          await store.set(id, { n });
          accepted.set(id, n);
        }),
        { numRuns: 400 },
      );
      // every stored session reads back as its own, none was overwritten by another id
      for (const [id, n] of accepted) expect(await store.get(id)).toEqual({ n });
      expect(await store.length()).toBe(accepted.size);
      // and nothing was written outside the prefix: the whole db minus other tests' prefixes
      let cursor = '0';
      do {
        const [next, keys] = await raw.scanBuffer(cursor, 'COUNT', 1000);
        cursor = next.toString();
        for (const k of keys) expect(k.toString('latin1')).toMatch(/^(test:|\{redisession\}:)/); // ours, or BullMQ's (worker tests)
      } while (cursor !== '0');
      await store.close();
    },
  );
});
