import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Runs `op` `total` times with `concurrency` in flight; returns ops/s, latency percentiles (µs),
 * and the CPU this process spent per op (µs, user + system, over the same window).
 */
export async function timed(total, concurrency, op) {
  const latencies = new Float64Array(total);
  let next = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t = process.hrtime.bigint();
        await op(i);
        latencies[i] = Number(process.hrtime.bigint() - t) / 1000;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  latencies.sort();
  const pct = (p) => latencies[Math.min(total - 1, Math.floor((p / 100) * total))];
  return {
    opsPerSec: Math.round(total / seconds),
    cpuUsPerOp: (used.user + used.system) / total,
    p50us: Math.round(pct(50)),
    p99us: Math.round(pct(99)),
  };
}

/** Writes `count` items with `concurrency` writes in flight. */
export async function fill(count, concurrency, write) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) await write(i);
    }),
  );
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Runs `work` while another process (get-load.mjs) reads hash-mode sessions `ids` (up to 20,000,
 * 4 in flight) under `prefix`: their get latency idle (the 2 s before) and during `work`.
 */
export async function getsDuring(server, ids, work, prefix = 'rs:') {
  const child = fork(fileURLToPath(new URL('./get-load.mjs', import.meta.url)));
  const reply = (pred) => new Promise((resolve) => child.on('message', (m) => pred(m) && resolve(m)));
  const ready = reply((m) => m.ready);
  child.send({ ids: ids.slice(0, 20_000), url: server.url, prefix });
  await ready;
  await new Promise((r) => setTimeout(r, 500)); // warm-up, not recorded
  child.send({ window: 'idle' });
  await new Promise((r) => setTimeout(r, 2000));
  child.send({ window: 'during' });
  await reply((m) => m.window === 'during');
  const t = process.hrtime.bigint();
  let result;
  try {
    result = await work();
  } catch (err) {
    child.kill();
    throw err;
  }
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  child.send({ window: null });
  const done = reply((m) => m.report);
  child.send({ report: true });
  const { report } = await done;
  await new Promise((r) => child.once('exit', r));
  return { result, seconds, idle: report.idle, during: report.during };
}
