// A web tier's reads in a process of their own (so a sweep running in the benchmark's process does
// not slow them down through a shared event loop): store.get on random live ids, a few in flight,
// with latencies recorded per window the parent names. Messages in: { ids, url, prefix }, then
// { window: name | null }, then { report: true } -> { [window]: { n, p50us, p99us } }.
import { Redis } from 'ioredis';
import { createSessionStore } from '../../dist/index.js';

const IN_FLIGHT = 4;
let window = null;
const samples = new Map();
let stop = false;

process.on('message', async (msg) => {
  if (msg.ids) {
    const client = new Redis(msg.url);
    const store = createSessionStore({ redis: client, prefix: msg.prefix });
    const pick = () => msg.ids[Math.floor(Math.random() * msg.ids.length)];
    const loops = Array.from({ length: IN_FLIGHT }, async () => {
      while (!stop) {
        const t = process.hrtime.bigint();
        await store.get(pick());
        const us = Number(process.hrtime.bigint() - t) / 1000;
        if (window) {
          if (!samples.has(window)) samples.set(window, []);
          samples.get(window).push(us);
        }
      }
    });
    process.send({ ready: true });
    await Promise.all(loops);
    await client.quit();
    process.exit(0);
  } else if ('window' in msg) {
    window = msg.window;
    process.send({ window });
  } else if (msg.report) {
    stop = true;
    const out = {};
    for (const [name, xs] of samples) {
      xs.sort((a, b) => a - b);
      const pct = (p) => Math.round(xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]);
      out[name] = { n: xs.length, p50us: pct(50), p99us: pct(99) };
    }
    process.send({ report: out });
  }
});
