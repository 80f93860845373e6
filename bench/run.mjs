// The benchmark suite: `npm run bench` (full) or `npm run bench -- --quick` (a few minutes).
// `--only=memory,sweep` runs some sections. Every measurement starts its own redis-server on a free
// loopback port. Each section's rows go to bench/results/sections/<name>.json (with how and when
// they were measured); bench/results/latest.{json,md} and memory.svg are rebuilt from all of them.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { memoryChart } from './lib/chart.mjs';
import { targetRows } from './lib/targets.mjs';
import { codecRows } from './sections/codecs.mjs';
import { durabilityRows } from './sections/durability.mjs';
import { memoryRows } from './sections/memory.mjs';
import { sweepRows } from './sections/sweep.mjs';
import { throughputRows } from './sections/throughput.mjs';

const quick = process.argv.includes('--quick');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const log = (text) => process.stderr.write(`${text}\n`);
const dir = new URL('./results/', import.meta.url);
const sectionDir = new URL('sections/', dir);
mkdirSync(sectionDir, { recursive: true });

const sections = {
  memory: memoryRows,
  throughput: throughputRows,
  sweep: sweepRows,
  codecs: codecRows,
  durability: durabilityRows,
};
const started = Date.now();
for (const [name, run] of Object.entries(sections)) {
  if (only && !only.includes(name)) continue;
  log(`== ${name}`);
  const t = Date.now();
  const rows = await run({ quick, log });
  const meta = {
    command: `npm run bench --${quick ? ' --quick' : ''} --only=${name}`,
    measuredAt: new Date(t).toISOString(),
    seconds: Math.round((Date.now() - t) / 1000),
    node: process.version,
    cpus: cpus().length,
  };
  writeFileSync(new URL(`${name}.json`, sectionDir), `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
}

function table(rows) {
  const cols = Object.keys(rows[0]);
  return [
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cols.map((c) => r[c]).join(' | ')} |`),
  ].join('\n');
}
const all = {};
for (const name of Object.keys(sections)) {
  if (!readdirSync(sectionDir).includes(`${name}.json`)) continue;
  all[name] = JSON.parse(readFileSync(new URL(`${name}.json`, sectionDir), 'utf8'));
}
const md = Object.entries(all)
  .map(([name, s]) => {
    const how = `\`${s.command}\`, ${s.measuredAt}, ${s.seconds} s, Node ${s.node}, ${s.cpus} cores`;
    return `### ${name}\n\n_${how}_\n\n${table(s.rows)}\n`;
  })
  .join('\n');
const targets = targetRows(all);
const targetsMd = targets.length
  ? `### targets\n\n_judged from the sections above (each from the run and date it names)_\n\n${table(targets)}\n`
  : '';
writeFileSync(new URL('latest.json', dir), `${JSON.stringify({ ...all, targets }, null, 2)}\n`);
writeFileSync(new URL('latest.md', dir), `${md}\n${targetsMd}`);
if (all.memory) writeFileSync(new URL('memory.svg', dir), memoryChart(all.memory.rows));
process.stdout.write(`${md}\n${targetsMd}`);
log(`done in ${Math.round((Date.now() - started) / 1000)} s: bench/results/latest.{json,md}`);
