import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/examples.js';
import { readDoc } from '../helpers/markdown.js';

/*
 * Every benchmark table of docs/performance.md names the run it comes from (command and time) and
 * where that run's rows are: a section of bench/results/latest.md, or bench/results/sections/*.json.
 * After `npm run bench` writes new results, this fails until the page's figures (and the time on
 * their source line) are copied from the new run: a figure never outlives the run it came from.
 */

const PAGE = 'docs/performance.md';
const SOURCE = /^_Source: `([^`]+)`, (\S+Z) \((\d+) s\)[^;]*; `bench\/results\/([^`]+)`(?:, section (\w+))?/gm;
const minute = (iso: string) => new Date(iso).toISOString().slice(0, 16);

describe(`${PAGE}: where each figure comes from`, () => {
  const sources = [...readDoc(PAGE).matchAll(SOURCE)];
  const latest = readFileSync(join(ROOT, 'bench/results/latest.md'), 'utf8');

  it('names a source for each benchmark table', () => {
    expect(sources.length).toBeGreaterThanOrEqual(5);
  });

  it.each(sources.map((m) => [`${m[4]}${m[5] ? ` § ${m[5]}` : ''}`, m] as const))(
    '%s: the run the page names is the run on record',
    (_, m) => {
      const [, command, at, seconds, file, section] = m;
      if (file === 'latest.md') {
        const header = new RegExp(`^### ${section}\\n\\n_\`([^\`]+)\`, (\\S+Z), (\\d+) s`, 'm').exec(latest);
        expect(header, `no section "${section}" in bench/results/latest.md`).not.toBeNull();
        expect([header?.[1], minute(header?.[2] as string), header?.[3]]).toEqual([
          command,
          minute(at as string),
          seconds,
        ]);
      } else {
        const run = JSON.parse(readFileSync(join(ROOT, 'bench/results', file as string), 'utf8'));
        expect([run.command, minute(run.measuredAt), String(run.seconds)]).toEqual([
          command,
          minute(at as string),
          seconds,
        ]);
      }
    },
  );
});
