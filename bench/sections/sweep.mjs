// A full sweep of a hash-mode population, half expired: redisession's Lua sweep against the seed's
// approach (read each bucket into the client, then delete the expired fields), and the p99 of gets
// from another client during the sweep against the same gets with no sweep running.
import { setPriority } from 'node:os';
import { readExpiry } from '../../dist/codec/envelope.js';
import { createSessionStore, runSweep } from '../../dist/index.js';
import { fill, getsDuring } from '../lib/measure.mjs';
import { startRedis } from '../lib/server.mjs';
import { newId, typical } from '../lib/sessions.mjs';

const BUCKETS = 65536;

async function populated(count) {
  // the slow log keeps every command over 100 µs: the longest sweep call is read from it
  const server = await startRedis(['--slowlog-log-slower-than', '100', '--slowlog-max-len', '1000000']);
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
  await server.client.config('RESETSTAT');
  await server.client.slowlog('RESET');
  return { server, store, live };
}

/** Script calls of the sweep (EVALSHA, and the EVAL that loads the script on a new connection): how many, their mean and the longest (µs), from Redis's own counters. */
async function scriptCalls(client) {
  const info = await client.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/g)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  if (calls === 0) return { calls: 0, meanUs: '–', longestUs: '–' };
  const slow = await client.slowlog('GET', 1_000_000);
  const longest = Math.max(0, ...slow.filter((e) => /^eval/i.test(String(e[3][0]))).map((e) => e[2]));
  return { calls, meanUs: Math.round(usec / calls), longestUs: longest || '<100' };
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
        const expiry = readExpiry(value); // either envelope format
        if (typeof expiry === 'number' && expiry <= now) dead.push(Buffer.from(field, 'latin1'));
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

/**
 * The worker's way: the bucket range cut into shards, swept in parallel (callBudgetUs: µs a script
 * call). `nice`: the sweeping thread's niceness meanwhile, as the worker takes it (WORKER_NICE).
 */
async function sharded(client, shards, callBudgetUs, nice = 0) {
  if (nice > 0) setPriority(nice);
  try {
    return await shardsOf(client, shards, callBudgetUs);
  } finally {
    // raising it back needs root (as here); without, it stays, and this row runs last for that
    if (nice > 0) {
      try {
        setPriority(0);
      } catch {}
    }
  }
}

function shardsOf(client, shards, callBudgetUs) {
  const per = BUCKETS / shards;
  return Promise.all(
    Array.from({ length: shards }, (_, i) =>
      runSweep(
        { client, prefix: Buffer.from('rs:'), buckets: BUCKETS },
        { graceMs: 0, batch: 100, callBudgetUs, range: { from: i * per, to: (i + 1) * per } },
      ),
    ),
  ).then((parts) => ({
    scanned: parts.reduce((n, p) => n + p.scanned, 0),
    deleted: parts.reduce((n, p) => n + p.deleted, 0),
  }));
}

export async function sweepRows({ quick, log }) {
  const count = quick ? 200_000 : 1_000_000;
  const runs = [
    ['redisession, 1 shard, 100 µs calls (CLEANUP_CALL_US default)', (server) => sharded(server.client, 1, 100)],
    ['redisession, 1 shard, 200 µs calls', (server) => sharded(server.client, 1, 200)],
    ['redisession, 2 shards in parallel (one worker), 100 µs calls', (server) => sharded(server.client, 2, 100)],
    ['redisession, 4 shards in parallel, 100 µs calls', (server) => sharded(server.client, 4, 100)],
    ['seed-style (HGETALL + HDEL from the client)', (server) => seedStyleSweep(server.client, Buffer.from('rs:'))],
    [
      'redisession, 2 shards, 100 µs calls, sweeper at niceness 10 (the worker, WORKER_NICE default)',
      (server) => sharded(server.client, 2, 100, 10),
    ],
  ];
  const rows = [];
  for (const [name, sweep] of runs) {
    const p = await populated(count);
    const r = await getsDuring(p.server, p.live, () => sweep(p.server));
    const calls = await scriptCalls(p.server.client);
    log(`  ${name}: ${r.result.deleted} deleted in ${r.seconds.toFixed(2)} s`);
    await p.server.stop();
    rows.push({
      sweep: name,
      sessions: count,
      scanned: r.result.scanned,
      deleted: r.result.deleted,
      seconds: r.seconds.toFixed(2),
      'sessions/s': Math.round(r.result.scanned / r.seconds),
      'get p99 µs idle': r.idle.p99us,
      'get p99 µs during': r.during.p99us,
      'p99 during / idle': (r.during.p99us / r.idle.p99us).toFixed(2),
      'script calls': calls.calls,
      'mean µs a call': calls.meanUs,
      'longest µs': calls.longestUs,
    });
  }
  const seed = rows.find((r) => r.sweep.startsWith('seed-style'))['sessions/s'];
  for (const row of rows) row['vs seed-style'] = (row['sessions/s'] / seed).toFixed(2);
  return rows;
}
