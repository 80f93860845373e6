// A full sweep of a hash-mode population, half expired: redisession's Lua sweep against the seed's
// approach (read each bucket into the client, then delete the expired fields), and the p99 of gets
// from another client during the sweep against the same gets with no sweep running.
import { Redis } from 'ioredis';
import { createSessionStore, runSweep } from '../../dist/index.js';
import { fill, timed } from '../lib/measure.mjs';
import { startRedis } from '../lib/server.mjs';
import { newId, typical } from '../lib/sessions.mjs';

const BUCKETS = 65536;

async function populated(count) {
  const server = await startRedis();
  const store = createSessionStore({ redis: server.client, serializer: 'compact', inlineSweep: 0 });
  const live = [];
  await fill(count, 64, (i) => {
    const id = newId();
    if (i % 2 === 0) {
      live.push(id);
      return store.set(id, typical());
    }
    return store.set(id, typical(), { ttlMs: 1 });
  });
  await new Promise((r) => setTimeout(r, 50));
  return { server, store, live };
}

/** The seed's cleanuprs, pipelined 100 buckets at a time to be fair: HGETALL, decide, HDEL. */
async function seedStyleSweep(client, prefix) {
  let scanned = 0;
  let deleted = 0;
  for (let from = 0; from < BUCKETS; from += 100) {
    const keys = Array.from({ length: 100 }, (_, i) =>
      Buffer.concat([prefix, Buffer.of(0, (from + i) >> 8, (from + i) & 0xff)]),
    );
    const read = client.pipeline();
    for (const k of keys) read.hgetallBuffer(k);
    const replies = await read.exec();
    const del = client.pipeline();
    const now = Date.now();
    replies.forEach(([, fields], i) => {
      const dead = [];
      for (const [field, value] of Object.entries(fields)) {
        scanned++;
        if (value[0] === 0xa3 && value.readUIntBE(2, 6) <= now) dead.push(Buffer.from(field, 'latin1'));
      }
      if (dead.length) {
        deleted += dead.length;
        del.hdel(keys[i], ...dead);
      }
    });
    await del.exec();
  }
  return { scanned, deleted };
}

async function getsDuring(server, ids, work) {
  const reader = new Redis(server.url);
  const store = createSessionStore({ redis: reader, serializer: 'compact' });
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  let done = false;
  const samples = [];
  const loop = (async () => {
    while (!done) samples.push(await timed(500, 8, () => store.get(pick())));
  })();
  const t = process.hrtime.bigint();
  const result = await work();
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  done = true;
  await loop;
  await reader.quit();
  return { result, seconds, p99us: Math.max(...samples.map((s) => s.p99us)) };
}

export async function sweepRows({ quick, log }) {
  const count = quick ? 200_000 : 1_000_000;
  const rows = [];

  const a = await populated(count);
  const idle = await timed(5_000, 8, () => a.store.get(a.live[Math.floor(Math.random() * a.live.length)]));
  const ours = await getsDuring(a.server, a.live, () =>
    runSweep({ client: a.server.client, prefix: Buffer.from('rs:'), buckets: BUCKETS }, { graceMs: 0, batch: 100 }),
  );
  log(`  redisession sweep: ${ours.result.deleted} deleted in ${ours.seconds.toFixed(2)} s`);
  await a.server.stop();

  const b = await populated(count);
  const seed = await getsDuring(b.server, b.live, () => seedStyleSweep(b.server.client, Buffer.from('rs:')));
  log(`  seed-style sweep: ${seed.result.deleted} deleted in ${seed.seconds.toFixed(2)} s`);
  await b.server.stop();

  for (const [name, r] of [
    ['redisession (Lua per bucket, batch 100, 1 process)', ours],
    ['seed-style (HGETALL + HDEL from the client)', seed],
  ]) {
    rows.push({
      sweep: name,
      sessions: count,
      scanned: r.result.scanned,
      deleted: r.result.deleted,
      seconds: r.seconds.toFixed(2),
      'sessions/s': Math.round(r.result.scanned / r.seconds),
      'get p99 µs during': r.p99us,
      'get p99 µs idle': idle.p99us,
    });
  }
  return rows;
}
