// What the store manifest's check costs on the request path: `npm run build && node bench/layout-guard.mjs [ops]`.
// The check runs once per store (its first call); afterwards every call goes through a wrapper
// that tests one flag. This times CPU µs per `get` (64 in flight) of a store with the check and of
// one without it, interleaved over 4 rounds on one private redis-server, and prints the medians.
import { randomBytes } from 'node:crypto';
import { createSessionStore } from '../dist/index.js';
import { withOrigin } from '../dist/store/layout-guard.js';
import { startRedis } from './lib/server.mjs';

const OPS = Number(process.argv[2] ?? 100_000);
const server = await startRedis();
const make = (checkLayout) =>
  createSessionStore(withOrigin({ redis: server.client, prefix: 'g:', inlineSweep: 0 }, { checkLayout }));
const ids = Array.from({ length: 2048 }, () => randomBytes(24).toString('base64url'));
const checked = make(true);
const unchecked = make(false);
for (const id of ids) await checked.set(id, { userId: 42, csrf: randomBytes(16).toString('hex') });

async function cpuPerGet(store) {
  const before = process.cpuUsage();
  for (let i = 0; i < OPS; i += 64) {
    const at = i % (ids.length - 64);
    await Promise.all(ids.slice(at, at + 64).map((id) => store.get(id)));
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / OPS;
}
const runs = { checked: [], unchecked: [] };
for (let round = 0; round < 4; round++) {
  runs.checked.push(await cpuPerGet(checked));
  runs.unchecked.push(await cpuPerGet(unchecked));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  JSON.stringify({
    ops: OPS,
    cpuUsPerGet: { checked: median(runs.checked).toFixed(2), unchecked: median(runs.unchecked).toFixed(2) },
    ratio: (median(runs.checked) / median(runs.unchecked)).toFixed(3),
  }),
);
await server.stop();
process.exit(0);
