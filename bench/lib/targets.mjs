// The request-path and sweep targets of issue 11, judged from the rows of one run (ratios only:
// absolute figures mean little on a shared machine).
import { CONNECT_REDIS } from './contenders.mjs';

const MODES = {
  string: 'redisession string (defaults)',
  hash: 'redisession hash (defaults: 65536 buckets)',
};
const x = (ratio) => `${ratio.toFixed(2)}x`;
const verdict = (ok) => (ok ? 'met' : '**missed**');

function throughputTargets(rows) {
  const find = (op, concurrency, store) =>
    rows.find((r) => r.op === op && r.concurrency === concurrency && r.store === store);
  // a section written by an older bench (no CPU column, another reference name) is not judged
  if (!rows.some((r) => r.store === CONNECT_REDIS && 'CPU µs/op' in r)) return [];
  const out = [];
  const ratio = (op, c, store, col) => Number(find(op, c, store)?.[col]);
  const minOps = { get: { string: 1, hash: 1 }, set: { string: 1, hash: 0.8 }, touch: { string: 1, hash: 1 } };
  for (const op of ['get', 'set', 'touch']) {
    for (const [mode, store] of Object.entries(MODES)) {
      if (!find(op, 64, store)) continue;
      const ops = ratio(op, 64, store, 'ops/s vs connect-redis');
      const want = minOps[op][mode];
      out.push({
        target: `${op}, ${mode} mode, c=64: ops/s ≥ ${want.toFixed(1)}x connect-redis`,
        measured: x(ops),
        result: verdict(ops >= want),
      });
      if (op === 'get') {
        const cpu = ratio(op, 64, store, 'CPU vs connect-redis');
        out.push({
          target: `get, ${mode} mode, c=64: CPU µs/op ≤ connect-redis's`,
          measured: `${find(op, 64, store)['CPU µs/op']} vs ${find(op, 64, CONNECT_REDIS)['CPU µs/op']} µs (${x(cpu)})`,
          result: verdict(cpu <= 1),
        });
      }
    }
  }
  for (const op of ['get', 'set', 'touch']) {
    for (const [mode, store] of Object.entries(MODES)) {
      const mine = find(op, 1, store);
      const ref = find(op, 1, CONNECT_REDIS);
      if (!mine || !ref) continue;
      const p50 = mine['p50 µs'] / ref['p50 µs'];
      const p99 = mine['p99 µs'] / ref['p99 µs'];
      out.push({
        target: `${op}, ${mode} mode, c=1: p50 and p99 ≤ 1.1x connect-redis`,
        measured: `p50 ${mine['p50 µs']} µs (${x(p50)}), p99 ${mine['p99 µs']} µs (${x(p99)})`,
        result: verdict(p50 <= 1.1 && p99 <= 1.1),
      });
    }
  }
  return out;
}

function sweepTargets(rows) {
  return rows
    .filter((r) => r.sweep.startsWith('redisession'))
    .map((r) => {
      const speed = Number(r['vs seed-style']);
      const p99 = Number(r['p99 during / idle']);
      return {
        target: `sweep of ${r.sessions.toLocaleString('en')} sessions, ${r.sweep}: ≥ 3x seed-style with get p99 ≤ 2x idle`,
        measured: `${x(speed)} at p99 ${x(p99)}`,
        result: verdict(speed >= 3 && p99 <= 2) + (r.sessions < 1_000_000 ? ' (at fewer than 1M: --quick)' : ''),
      };
    });
}

/** Rows of the targets table from the sections measured so far (each may come from another run). */
export function targetRows(sections) {
  return [
    ...(sections.throughput ? throughputTargets(sections.throughput.rows) : []),
    ...(sections.sweep ? sweepTargets(sections.sweep.rows) : []),
  ];
}
