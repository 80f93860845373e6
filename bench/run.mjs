// The benchmark suite: `npm run bench` (full) or `npm run bench -- --quick` (a few minutes).
// Every measurement starts its own redis-server on a free loopback port. Results go to
// bench/results/latest.json and bench/results/latest.md.
import { writeFileSync } from 'node:fs';
import { codecRows } from './sections/codecs.mjs';
import { memoryRows } from './sections/memory.mjs';
import { sweepRows } from './sections/sweep.mjs';
import { throughputRows } from './sections/throughput.mjs';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const started = Date.now();
const results = { quick, startedAt: new Date(started).toISOString(), node: process.version, sections: {} };
const log = (text) => process.stderr.write(`${text}\n`);

const sections = { memory: memoryRows, throughput: throughputRows, sweep: sweepRows, codecs: codecRows };
for (const [name, run] of Object.entries(sections)) {
  if (only && only !== name) continue;
  log(`== ${name}`);
  results.sections[name] = await run({ quick, log });
}
results.durationSec = Math.round((Date.now() - started) / 1000);

function table(rows) {
  if (!rows?.length) return '';
  const cols = Object.keys(rows[0]);
  return [
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cols.map((c) => r[c]).join(' | ')} |`),
  ].join('\n');
}
const md = Object.entries(results.sections)
  .map(([name, rows]) => `### ${name}\n\n${table(rows)}\n`)
  .join('\n');
const dir = new URL('./results/', import.meta.url);
// a run of one section does not replace the full results the README shows
const name = only ? `only-${only}` : 'latest';
writeFileSync(new URL(`${name}.json`, dir), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(
  new URL(`${name}.md`, dir),
  `<!-- npm run bench${quick ? ' -- --quick' : ''}; ${results.startedAt}; ${results.durationSec} s; Node ${process.version} -->\n\n${md}`,
);
process.stdout.write(md);
log(`done in ${results.durationSec} s: bench/results/${name}.{json,md}`);
