// What one request-path operation costs, client and Redis side:
// `npm run build && node bench/op-cost.mjs [--ops=N] [--rounds=N] [--c=64] [--only=get,set] [--stores=string,hash]`.
// For connect-redis 9 and redisession (string and hash mode, defaults), each op (get, set, touch:
// express-session's, expires recomputed per call) runs `ops` times with `c` in flight against one
// private redis-server, rounds interleaved. Printed per store and op (median of the rounds): the
// client's CPU µs per op, redis-server's CPU µs per op (INFO cpu: parsing, networking, commands),
// and each command Redis ran, with calls per op and its usec_per_call (INFO commandstats: the
// command's execution alone, a script's whole run for EVALSHA). Meant for profiling (node
// --cpu-prof bench/op-cost.mjs --only=set --stores=string) and for a script change's server cost.
import { CONTENDERS } from './lib/contenders.mjs';
import { fill, median, timed } from './lib/measure.mjs';
import { startRedis } from './lib/server.mjs';
import { newId, requestOp, typical } from './lib/sessions.mjs';

const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const OPS = Number(arg('ops', 50_000));
const ROUNDS = Number(arg('rounds', 3));
const C = Number(arg('c', 64));
const only = arg('only', 'get,set,touch').split(',');
const STORES = {
  'connect-redis': CONTENDERS[0],
  string: CONTENDERS.find((c) => c.name === 'redisession string (defaults)'),
  hash: CONTENDERS.find((c) => c.name.startsWith('redisession hash (defaults')),
};
const stores = arg('stores', 'connect-redis,string,hash').split(',');

const server = await startRedis();
const { client } = server;
async function serverCpuUs() {
  const info = await client.info('cpu');
  const s = (k) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)[1]);
  return (s('used_cpu_sys') + s('used_cpu_user')) * 1e6;
}
async function commandStats() {
  const info = await client.info('commandstats');
  const out = {};
  for (const m of info.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
    out[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
  }
  return out;
}

const open = [];
for (const name of stores) {
  const store = await STORES[name].open(server);
  const ids = Array.from({ length: 10_000 }, newId);
  await fill(ids.length, 64, (i) => store.set(ids[i], typical()));
  open.push({ name, store, ids });
}
const results = new Map();
for (let round = 0; round < ROUNDS; round++) {
  for (const op of only) {
    for (const { name, store, ids } of open) {
      const run = requestOp(op, store, ids);
      await client.config('RESETSTAT');
      const cpu0 = await serverCpuUs();
      const r = await timed(OPS, C, run);
      const serverUs = ((await serverCpuUs()) - cpu0) / OPS;
      const stats = await commandStats();
      const key = `${name}|${op}`;
      const prev = results.get(key) ?? [];
      results.set(key, [...prev, { ...r, serverUs, stats }]);
    }
  }
}
for (const { store } of open) await store.close();
await server.stop();

for (const op of only) {
  for (const { name } of open) {
    const rs = results.get(`${name}|${op}`);
    const commands = Object.entries(rs.at(-1).stats)
      .filter(([cmd]) => !['config', 'info'].includes(cmd))
      .map(([cmd, s]) => `${cmd} ${(s.calls / OPS).toFixed(2)}/op ${(s.usec / s.calls).toFixed(2)} µs`)
      .join(', ');
    console.log(
      `${op.padEnd(5)} ${name.padEnd(14)} ops/s ${String(median(rs.map((r) => r.opsPerSec))).padStart(7)}` +
        `  client ${median(rs.map((r) => r.cpuUsPerOp)).toFixed(2)} µs/op` +
        `  redis ${median(rs.map((r) => r.serverUs)).toFixed(2)} µs/op  [${commands}]`,
    );
  }
}
process.exit(0);
