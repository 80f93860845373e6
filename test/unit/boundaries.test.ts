import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/**
 * Every module reachable from an entry through relative imports, with the packages each imports
 * (and those imported for their types only, which are gone at run time).
 */
function reach(entry: string): { files: Set<string>; packages: Set<string>; runtime: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const runtime = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(import type|export type|import|export)[^'"]*?from\s+'([^']+)'/g)) {
      const spec = m[2] as string;
      if (spec.startsWith('.')) {
        visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
        continue;
      }
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
      packages.add(name);
      if (!m[1]?.endsWith('type')) runtime.add(name);
    }
  };
  visit(join(SRC, entry));
  return { files, packages, runtime };
}

describe('the web-tier library stays light', () => {
  it.each(['index.ts', 'adapters/express.ts', 'adapters/fastify.ts', 'adapters/koa.ts'])(
    '%s never reaches bullmq, pino, yargs or zod',
    (entry) => {
      const { files, packages } = reach(entry);
      expect(files.size).toBeGreaterThan(5);
      for (const heavy of ['bullmq', 'pino', 'yargs', 'zod', 'cli-progress']) expect(packages).not.toContain(heavy);
      for (const f of files) expect(f).not.toMatch(/\/(worker|cli)\//);
    },
  );

  it.each([
    ['index.ts', []],
    ['adapters/fastify.ts', []],
    ['adapters/koa.ts', []],
    ['adapters/express.ts', ['express-session']],
  ])('%s loads no web framework at run time but %j (an app has only its own framework)', (entry, allowed) => {
    const { runtime } = reach(entry);
    for (const framework of ['express-session', 'express', 'fastify', '@fastify/session', 'koa', 'koa-session']) {
      if (!allowed.includes(framework)) expect(runtime).not.toContain(framework);
    }
  });

  it('src/ (TypeScript and Lua) never uses KEYS, FLUSHDB or FLUSHALL', () => {
    const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|lua)$/.test(f));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      const text = readFileSync(join(SRC, f), 'utf8');
      expect(text, f).not.toMatch(
        /['"](KEYS|FLUSHDB|FLUSHALL)['"]|\.(flushdb|flushall)\(|(redis|client|node|connection)\.keys\(/i,
      );
    }
  });
});
