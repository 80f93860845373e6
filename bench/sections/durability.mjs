// The cost of the `durability` option (WAIT for one replica) on set. A private master and replica
// (loopback); typical express sessions with an owner (so the user index too), written with 1 and
// 64 in flight, with and without durability, interleaved over rounds. Per case: sets/s, latency
// percentiles, and CPU per set of the Node process (client) and of the master (server, INFO cpu).
import { createSessionStore } from '../../dist/index.js';
import { median, timed } from '../lib/measure.mjs';
import { startRedis } from '../lib/server.mjs';
import { newId, typical } from '../lib/sessions.mjs';

export async function durabilityRows({ quick, log }) {
  const ops = quick ? 5_000 : 20_000;
  const rounds = quick ? 1 : 3;
  const master = await startRedis();
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  while (!/master_link_status:up/.test(await replica.client.info('replication'))) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const serverCpuUs = async () => {
    const info = await master.client.info('cpu');
    return (Number(/used_cpu_user:([\d.]+)/.exec(info)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)[1])) * 1e6;
  };
  const results = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const concurrency of [1, 64]) {
      for (const durable of [false, true]) {
        const store = createSessionStore({
          redis: master.url,
          prefix: `d${durable ? 1 : 0}c${concurrency}r${round}:`,
          buckets: 8192,
          userId: (s) => String(s.userId),
          ...(durable ? { durability: { replicas: 1, timeoutMs: 1000 } } : {}),
        });
        await store.set(newId(), typical()); // connected, scripts loaded
        const n = concurrency === 1 ? Math.ceil(ops / 4) : ops;
        const ids = Array.from({ length: n }, newId);
        const sessions = ids.map(() => typical());
        const cpu = process.cpuUsage();
        const server = await serverCpuUs();
        const r = await timed(n, concurrency, (i) => store.set(ids[i], sessions[i]));
        const used = process.cpuUsage(cpu);
        const serverUsed = (await serverCpuUs()) - server;
        const label = `${durable ? 'durability: 1 replica' : 'no durability'}, ${concurrency} in flight`;
        if (!results.has(label)) results.set(label, []);
        results.get(label).push({ ...r, clientUs: (used.user + used.system) / n, serverUs: serverUsed / n });
        log(`${label}, round ${round + 1}: ${r.opsPerSec} sets/s`);
        await store.close();
      }
    }
  }
  await replica.stop();
  await master.stop();
  return [...results].map(([label, runs]) => ({
    case: label,
    'sets/s': Math.round(median(runs.map((x) => x.opsPerSec))),
    'p50 µs': Math.round(median(runs.map((x) => x.p50us))),
    'p99 µs': Math.round(median(runs.map((x) => x.p99us))),
    'client CPU µs/set': median(runs.map((x) => x.clientUs)).toFixed(1),
    'master CPU µs/set': median(runs.map((x) => x.serverUs)).toFixed(1),
  }));
}
