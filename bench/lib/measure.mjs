/** Runs `op` `total` times with `concurrency` in flight; returns ops/s and latency percentiles (µs). */
export async function timed(total, concurrency, op) {
  const latencies = new Float64Array(total);
  let next = 0;
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
  latencies.sort();
  const pct = (p) => latencies[Math.min(total - 1, Math.floor((p / 100) * total))];
  return { opsPerSec: Math.round(total / seconds), p50us: Math.round(pct(50)), p99us: Math.round(pct(99)) };
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
