import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/*
 * src/redis/string-prototype.ts: ioredis's `class extends String` leaves V8's String.prototype a
 * slow (dictionary) prototype, which makes every charCodeAt loop of the process about 5x slower
 * (session keys, the compact codec). Importing the library must leave it fast. Checked with V8's
 * own %HasFastProperties in a fresh process (a timing would flake), for ioredis alone (the reason)
 * and for each entry point a web app imports.
 */

function fastAfter(specifier: string): string {
  const run = spawnSync(
    process.execPath,
    [
      '--allow-natives-syntax',
      '-e',
      `import(${JSON.stringify(specifier)}).then(() => console.log(%HasFastProperties(String.prototype)))`,
    ],
    { cwd: process.cwd(), encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout.trim();
}

describe('String.prototype stays a fast prototype', () => {
  it('ioredis alone makes it slow (what the library undoes)', () => {
    expect(fastAfter('ioredis')).toBe('false');
  });

  it.each(['redisession', 'redisession/express', 'redisession/fastify', 'redisession/koa'])(
    'after importing %s',
    (entry) => {
      expect(fastAfter(entry)).toBe('true');
    },
  );
});
