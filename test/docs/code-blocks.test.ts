import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/examples.js';
import { type CodeBlock, codeBlocks, docPages, readDoc } from '../helpers/markdown.js';

/*
 * Every code block in README.md, docs/*.md and worker/README.md is either a program under examples/ (or a region of
 * one), word for word, which test/examples runs; or marked as no program (commands to type, what a
 * command prints, a Redis ACL line, a diagram). See docs/contributing.md, "Code samples in the
 * docs". UPDATE_DOC_EXAMPLES=1 copies the examples into the pages instead of failing.
 */

const NOT_RUN_KINDS = ['shell', 'output', 'config', 'diagram', 'tree'];
/** Examples no page shows, and why. */
const SUPPORT_FILES: Record<string, string> = {
  'examples/from-connect-redis/app.ts': 'the app before.ts and after.ts both serve ("your express app")',
};
const UPDATE = process.env.UPDATE_DOC_EXAMPLES === '1';

type Marker = { kind: 'example'; file: string; region: string | null } | { kind: 'not-run'; what: string };

function parseMarker(block: CodeBlock): Marker {
  const where = `${block.page}:${block.line}`;
  if (block.marker === null) {
    throw new Error(
      `${where}: a code block without a marker. Put <!-- example: examples/<file>[#region] --> above it and keep the code in that file (a test runs it), or <!-- not-run: ${NOT_RUN_KINDS.join('|')} --> if it is no program`,
    );
  }
  const example = /^example:\s*(\S+?)(?:#([\w-]+))?$/.exec(block.marker);
  if (example) return { kind: 'example', file: example[1] as string, region: example[2] ?? null };
  const notRun = /^not-run:\s*(\S+)$/.exec(block.marker);
  if (notRun && NOT_RUN_KINDS.includes(notRun[1] as string)) return { kind: 'not-run', what: notRun[1] as string };
  throw new Error(
    `${where}: unknown marker <!-- ${block.marker} -->; use "example: examples/<file>[#region]" or "not-run: ${NOT_RUN_KINDS.join('|')}"`,
  );
}

/** The text a block showing `file` (or its `region`) must hold. */
function expected(file: string, region: string | null, where: string): string {
  if (!file.startsWith('examples/') || !existsSync(join(ROOT, file))) {
    throw new Error(`${where}: ${file} is not a file under examples/`);
  }
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/\n$/, '');
  if (region === null) return text;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${region}`);
  const end = lines.findIndex((l, i) => i > start && /^\/\/ #endregion\b/.test(l.trim()));
  if (start < 0 || end < 0)
    throw new Error(`${where}: ${file} has no region "${region}" (// #region ${region} ... // #endregion)`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => (/^ */.exec(l) as RegExpExecArray)[0].length));
  return body.map((l) => l.slice(indent)).join('\n');
}

function examplesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/${f}`)
    .sort();
}

const pages = docPages();
const shown = new Set<string>();

describe.each(pages)('%s', (page) => {
  it('has a marker above every code block, and every example block is its file', () => {
    const text = readDoc(page);
    const lines = text.split('\n');
    const mismatches: string[] = [];
    // from the last block up, so that rewriting one keeps the line numbers of those above it
    for (const block of codeBlocks(page, text).reverse()) {
      const marker = parseMarker(block);
      if (marker.kind !== 'example') continue;
      const where = `${page}:${block.line}`;
      shown.add(marker.file);
      expect(block.lang, `${where}: the fence's language`).toBe('ts');
      const want = expected(marker.file, marker.region, where);
      if (block.body === want) continue;
      if (UPDATE) {
        const [first, last] = block.bodyLines;
        lines.splice(first, last - first + 1, ...want.split('\n').map((l) => (l ? block.indent + l : l)));
      } else {
        mismatches.push(`${where} differs from ${marker.file}${marker.region ? `#${marker.region}` : ''}`);
        expect(block.body, mismatches.at(-1)).toBe(want);
      }
    }
    if (UPDATE) writeFileSync(join(ROOT, page), lines.join('\n'));
  });
});

describe('examples/', () => {
  it('every program is shown by a page (the pages are checked first)', () => {
    for (const page of pages) {
      for (const block of codeBlocks(page)) {
        const marker = parseMarker(block);
        if (marker.kind === 'example') shown.add(marker.file);
      }
    }
    const orphans = examplesUnder('examples').filter((f) => !shown.has(f) && !(f in SUPPORT_FILES));
    expect(orphans, 'examples no page shows: show them, or list them in SUPPORT_FILES with a reason').toEqual([]);
  });
});
