// get / set / touch of a typical session at concurrency 1 and 64, every contender interleaved round
// by round in one process against one private redis-server: ops/s, the client process's CPU per op,
// latency, and ratios against connect-redis. The bare clients (ioredis with and without write
// coalescing, node-redis) doing the same command on a same-size value show the ceiling.
import { CONNECT_REDIS, CONTENDERS, RAW_CLIENTS } from '../lib/contenders.mjs';
import { fill, timed } from '../lib/measure.mjs';
import { startRedis } from '../lib/server.mjs';
import { newId, requestOp, typical } from '../lib/sessions.mjs';

export const OPS = ['get', 'set', 'touch'];
export const CONCURRENCY = [1, 64];

export async function throughputRows({ quick, log }) {
  const rounds = 3;
  const pool = 10_000;
  const ops = { 1: quick ? 2_000 : 5_000, 64: quick ? 20_000 : 60_000 };
  const server = await startRedis();
  const valueBytes = JSON.stringify(typical()).length;
  const all = [...CONTENDERS.filter((c) => !c.memoryOnly), ...RAW_CLIENTS];
  const open = [];
  for (const c of all) {
    const store = await c.open(server, valueBytes);
    const ids = Array.from({ length: pool }, newId);
    await fill(pool, 64, (i) => store.set(ids[i], typical()));
    open.push({ c, store, ids });
  }
  const samples = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const concurrency of CONCURRENCY) {
      for (const op of OPS) {
        for (const { c, store, ids } of open) {
          const r = await timed(ops[concurrency], concurrency, requestOp(op, store, ids));
          const key = `${c.name}|${op}|${concurrency}`;
          samples.set(key, [...(samples.get(key) ?? []), r]);
        }
      }
    }
    log(`  round ${round + 1}/${rounds} done`);
  }
  for (const { store } of open) await store.close();
  await server.stop();

  // Each figure is the best of the rounds: on a shared machine the noise only ever slows things down.
  const best = (key) => {
    const rs = samples.get(key);
    return {
      opsPerSec: Math.max(...rs.map((r) => r.opsPerSec)),
      cpuUsPerOp: Math.min(...rs.map((r) => r.cpuUsPerOp)),
      p50us: Math.min(...rs.map((r) => r.p50us)),
      p99us: Math.min(...rs.map((r) => r.p99us)),
    };
  };
  const rows = [];
  for (const concurrency of CONCURRENCY) {
    for (const op of OPS) {
      const ref = best(`${CONNECT_REDIS}|${op}|${concurrency}`);
      for (const { c } of open) {
        const b = best(`${c.name}|${op}|${concurrency}`);
        rows.push({
          op,
          concurrency,
          store: c.name,
          'ops/s': b.opsPerSec,
          'CPU µs/op': b.cpuUsPerOp.toFixed(2),
          'ops/s vs connect-redis': (b.opsPerSec / ref.opsPerSec).toFixed(2),
          'CPU vs connect-redis': (b.cpuUsPerOp / ref.cpuUsPerOp).toFixed(2),
          'p50 µs': b.p50us,
          'p99 µs': b.p99us,
        });
      }
    }
  }
  return rows;
}
