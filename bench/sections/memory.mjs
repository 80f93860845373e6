// Bytes per session in Redis (used_memory delta over the population), over the session-shape corpus
// (test/fixtures/session-shapes.mjs): connect-redis 9 against redisession hash mode at 1M sessions of
// each shape up to 250 bytes of JSON (the targets: <= 0.35x), and at 100k with the default buckets,
// the buckets the docs recommend for 100k (<= 0.40x) and string mode; plus the 2 KB and 20 KB
// sessions for compression. Each measurement gets a fresh redis-server with Redis's defaults.
import { randomFillSync } from 'node:crypto';
import { cryptoRandom, SESSION_SHAPES } from '../../test/fixtures/session-shapes.mjs';
import { CONTENDERS, redisession } from '../lib/contenders.mjs';
import { fill } from '../lib/measure.mjs';
import { startRedis } from '../lib/server.mjs';
import { newId, SHAPES } from '../lib/sessions.mjs';

/**
 * Random bytes for the shapes' ids and tokens, sliced from a pool refilled from node:crypto: a
 * call of randomBytes per token made generating a session cost as much as storing it.
 */
const pool = Buffer.allocUnsafe(1 << 20);
let taken = pool.length;
function pooledRandomBytes(n) {
  if (taken + n > pool.length) {
    randomFillSync(pool);
    taken = 0;
  }
  taken += n;
  return pool.subarray(taken - n, taken);
}

/** The README's advice: buckets = the power of two nearest to sessions / 16. */
export const recommendedBuckets = (sessions) => 2 ** Math.round(Math.log2(sessions / 16));

const byName = (prefix) => CONTENDERS.find((c) => c.name.startsWith(prefix));
const CONNECT_REDIS = byName('connect-redis');
const HASH = { ...byName('redisession hash (defaults'), name: 'redisession hash (defaults)' };
const STRING = byName('redisession string (defaults)');
const hashWith = (buckets) =>
  redisession(`redisession hash, buckets ${buckets}`, { mode: 'hash', buckets, prefix: 'rs8:' });
const LARGE = [
  CONNECT_REDIS,
  HASH,
  STRING,
  redisession('redisession hash, compression none', { mode: 'hash', compression: 'none', prefix: 'rs6:' }),
];

/** Share of bucket hashes that are listpacks (every key when there are at most 70k, else 2000 random ones). */
async function listpackShare(client) {
  const size = await client.dbsize();
  let keys = [];
  if (size <= 70_000) {
    let cursor = '0';
    do {
      const [next, found] = await client.scanBuffer(cursor, 'COUNT', 2000);
      cursor = next.toString();
      keys.push(...found);
    } while (cursor !== '0');
  } else {
    const pipe = client.pipeline();
    for (let i = 0; i < 2000; i++) pipe.randomkeyBuffer();
    keys = (await pipe.exec()).map(([, k]) => k).filter(Boolean);
  }
  const seen = {};
  for (let i = 0; i < keys.length; i += 1000) {
    const pipe = client.pipeline();
    for (const k of keys.slice(i, i + 1000)) pipe.object('ENCODING', k);
    for (const [, enc] of await pipe.exec()) seen[enc] = (seen[enc] ?? 0) + 1;
  }
  if (!seen.listpack && !seen.hashtable) return '–';
  return `${Math.round(((seen.listpack ?? 0) / ((seen.listpack ?? 0) + (seen.hashtable ?? 0))) * 100)}%`;
}

/** One population in a fresh server: bytes per session and the listpack share. */
async function measure(contender, count, make) {
  const server = await startRedis();
  try {
    const before = await server.usedMemory();
    const store = await contender.open(server);
    await fill(count, 128, () => store.set(newId(), make()));
    const perSession = Math.round(((await server.usedMemory()) - before) / count);
    const listpacks = contender.name.includes('hash') ? await listpackShare(server.client) : '–';
    await store.close();
    return { perSession, listpacks };
  } finally {
    await server.stop();
  }
}

export async function memoryRows({ quick, log }) {
  const big = quick ? 20_000 : 1_000_000;
  const small = quick ? 20_000 : 100_000;
  const shapes = SESSION_SHAPES.map((s) => {
    const make = () => s.make(cryptoRandom(pooledRandomBytes));
    return { name: s.name, make, json: Math.max(...Array.from({ length: 20 }, () => JSON.stringify(make()).length)) };
  });
  const plan = [
    // the 1M target names connect-redis and hash mode; 1M of every contender would take hours
    ...(quick ? [] : shapes.filter((s) => s.json <= 250).map((s) => [s, big, [CONNECT_REDIS, HASH]])),
    ...shapes.map((s) => [s, small, [CONNECT_REDIS, HASH, hashWith(recommendedBuckets(small)), STRING]]),
    ...[
      ['2KB', quick ? 2_000 : 100_000],
      ['20KB', quick ? 2_000 : 100_000],
    ].map(([name, n]) => [{ name, make: SHAPES[name], json: JSON.stringify(SHAPES[name]()).length }, n, LARGE]),
  ];
  const rows = [];
  for (const [shape, count, contenders] of plan) {
    let baseline = null;
    for (const contender of contenders) {
      const { perSession, listpacks } = await measure(contender, count, shape.make);
      baseline ??= perSession;
      rows.push({
        session: shape.name,
        'JSON bytes': shape.json,
        sessions: count,
        store: contender.name,
        'bytes/session': perSession,
        'vs connect-redis': (perSession / baseline).toFixed(2),
        'listpack buckets': listpacks,
      });
      log(`  ${shape.name} x ${count} ${contender.name}: ${perSession} B/session, listpacks ${listpacks}`);
    }
  }
  return rows;
}
