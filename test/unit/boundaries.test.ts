import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');
const WORKER_SRC = resolve(import.meta.dirname, '../../worker/src');

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
  it.each(['index.ts', 'adapters/express.ts', 'adapters/fastify.ts', 'adapters/koa.ts', 'internal.ts'])(
    '%s never reaches bullmq, pino, yargs or zod',
    (entry) => {
      const { files, packages } = reach(entry);
      expect(files.size).toBeGreaterThan(5);
      for (const heavy of ['bullmq', 'pino', 'yargs', 'zod', 'cli-progress']) expect(packages).not.toContain(heavy);
      for (const f of files) expect(f.startsWith(`${SRC}/`), f).toBe(true);
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

  it('declares as dependencies exactly what src/ loads at run time, less the frameworks (peers)', () => {
    const pkg = JSON.parse(readFileSync(resolve(SRC, '../package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
    };
    const loaded = new Set<string>();
    for (const entry of ['index.ts', 'internal.ts', 'adapters/express.ts', 'adapters/fastify.ts', 'adapters/koa.ts']) {
      for (const name of reach(entry).runtime) if (!name.startsWith('node:')) loaded.add(name);
    }
    for (const peer of Object.keys(pkg.peerDependencies)) loaded.delete(peer);
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...loaded].sort());
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

describe('the worker package (redisession-worker)', () => {
  const files = readdirSync(WORKER_SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));

  it('uses the library only through `redisession` and `redisession/internal`', () => {
    expect(files.length).toBeGreaterThan(20);
    const packages = new Set<string>();
    for (const f of files) {
      const text = readFileSync(join(WORKER_SRC, f), 'utf8');
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'/g)) {
        const spec = m[1] as string;
        if (spec.startsWith('.')) {
          // relative imports stay inside worker/src: never a path into the library's src/
          expect(resolve(WORKER_SRC, dirname(f), spec).startsWith(`${WORKER_SRC}/`), `${f}: ${spec}`).toBe(true);
        } else if (spec.startsWith('redisession')) packages.add(spec);
      }
    }
    expect([...packages].sort()).toEqual(['redisession', 'redisession/internal']);
  });

  it('declares every package it imports, and the library at its own version', () => {
    const pkg = JSON.parse(readFileSync(resolve(WORKER_SRC, '../package.json'), 'utf8')) as {
      version: string;
      dependencies: Record<string, string>;
    };
    const lib = JSON.parse(readFileSync(resolve(SRC, '../package.json'), 'utf8')) as { version: string };
    expect(pkg.dependencies.redisession).toBe(lib.version); // `redisession/internal` has no semver promise
    for (const f of files) {
      const text = readFileSync(join(WORKER_SRC, f), 'utf8');
      for (const m of text.matchAll(/(?:^|\n)\s*import[^'"]*?from\s+'([^'.][^']*)'/g)) {
        const spec = m[1] as string;
        if (spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
        expect(Object.keys(pkg.dependencies), `${f} imports ${name}`).toContain(name);
      }
    }
  });
});
