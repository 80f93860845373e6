// get / set / touch at concurrency 1 and 64, every contender interleaved round by round, against
// the raw client doing the same command on a same-size value (the ceiling).
import { CONTENDERS, RAW, RAW_BINARY } from '../lib/contenders.mjs';
import { fill, median, timed } from '../lib/measure.mjs';
import { startRedis } from '../lib/server.mjs';
import { newId, typical } from '../lib/sessions.mjs';

export async function throughputRows({ quick, log }) {
  const rounds = quick ? 2 : 3;
  const pool = 10_000;
  const ops = { 1: quick ? 2_000 : 5_000, 64: quick ? 20_000 : 60_000 };
  const server = await startRedis();
  const valueBytes = JSON.stringify(typical()).length;
  const all = [...CONTENDERS.filter((c) => !c.memoryOnly), RAW_BINARY, RAW];
  const open = [];
  for (const c of all) {
    const store = await c.open(server, valueBytes);
    const ids = Array.from({ length: pool }, newId);
    await fill(pool, 64, (i) => store.set(ids[i], typical()));
    open.push({ c, store, ids });
  }
  const samples = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const concurrency of [1, 64]) {
      for (const op of ['get', 'set', 'touch']) {
        for (const { c, store, ids } of open) {
          const session = typical();
          const pick = () => ids[Math.floor(Math.random() * ids.length)];
          const run =
            op === 'get'
              ? () => store.get(pick())
              : op === 'set'
                ? () => store.set(pick(), session)
                : () => store.touch(pick(), session);
          const r = await timed(ops[concurrency], concurrency, run);
          const key = `${c.name}|${op}|${concurrency}`;
          samples.set(key, [...(samples.get(key) ?? []), r]);
        }
      }
    }
    log(`  round ${round + 1}/${rounds} done`);
  }
  for (const { store } of open) await store.close();
  await server.stop();

  const rows = [];
  for (const concurrency of [1, 64]) {
    for (const op of ['get', 'set', 'touch']) {
      const ceiling = median(samples.get(`${RAW.name}|${op}|${concurrency}`).map((r) => r.opsPerSec));
      for (const { c } of open) {
        const rs = samples.get(`${c.name}|${op}|${concurrency}`);
        const opsPerSec = median(rs.map((r) => r.opsPerSec));
        rows.push({
          op,
          concurrency,
          store: c.name,
          'ops/s': opsPerSec,
          'p50 µs': median(rs.map((r) => r.p50us)),
          'p99 µs': median(rs.map((r) => r.p99us)),
          'vs raw client': (opsPerSec / ceiling).toFixed(2),
        });
      }
    }
  }
  return rows;
}
