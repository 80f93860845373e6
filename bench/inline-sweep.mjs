// Cost of the in-line sweep on hash-mode writes: `npm run build && node bench/inline-sweep.mjs`.
// Writes the same typical sessions at concurrency 64 with inlineSweep 0, 0.1 (the default) and 1,
// interleaved over several rounds on one private redis-server, and prints sets/s for each.
import { randomBytes } from 'node:crypto';
import { createSessionStore } from '../dist/index.js';
import { startRedis } from './lib/server.mjs';

const OPS = Number(process.argv[2] ?? 40_000);
const ROUNDS = 3;
const server = await startRedis();
const { client } = server;

const session = () => ({
  cookie: { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000), httpOnly: true, path: '/' },
  userId: 42,
  csrfToken: randomBytes(16).toString('hex'),
});
const rates = { 0: [], 0.1: [], 1: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const inlineSweep of [0, 0.1, 1]) {
    const store = createSessionStore({ redis: client, prefix: `b${inlineSweep}:`, buckets: 8192, inlineSweep });
    const ids = Array.from({ length: OPS }, () => randomBytes(24).toString('base64url'));
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < ids.length) await store.set(ids[next++], session());
      }),
    );
    rates[inlineSweep].push(OPS / (Number(process.hrtime.bigint() - started) / 1e9));
  }
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.table(
  Object.entries(rates).map(([rate, xs]) => ({
    inlineSweep: Number(rate),
    setsPerSecond: Math.round(median(xs)),
    rounds: xs.map(Math.round).join(' '),
  })),
);
await server.stop();
