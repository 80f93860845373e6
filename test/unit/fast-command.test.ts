import fc from 'fast-check';
import { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/redis/fast-command.js';

/** What ioredis itself would write for the command. */
function ioredisBytes(name: string, args: Array<Buffer | string | number>): Buffer {
  const command = new Command(name, args);
  command.promise.catch(() => {}); // never sent
  const out = command.toWritable({});
  return typeof out === 'string' ? Buffer.from(out, 'utf8') : out;
}

describe('encodeCommand', () => {
  it('writes exactly what ioredis writes, for Buffers, strings (also non-ASCII) and numbers', () => {
    const arg = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 10 }),
      fc.nat(),
      fc.integer({ min: -(2 ** 40), max: 2 ** 48 }),
      fc.maxSafeNat(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );
    fc.assert(
      fc.property(fc.constantFrom('get', 'hget', 'set', 'evalsha'), fc.array(arg, { maxLength: 12 }), (name, args) => {
        expect(encodeCommand(name, args).equals(ioredisBytes(name, args))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('handles a value far over the Buffer pool size', () => {
    const big = Buffer.alloc(100_000, 7);
    expect(encodeCommand('set', ['k', big, 'PX', 1000]).equals(ioredisBytes('set', ['k', big, 'PX', 1000]))).toBe(true);
  });
});
