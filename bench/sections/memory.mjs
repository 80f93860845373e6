// Bytes per session in Redis: used_memory delta over the population, plus bucket encodings.
import { CONTENDERS } from '../lib/contenders.mjs';
import { fill } from '../lib/measure.mjs';
import { startRedis } from '../lib/server.mjs';
import { newId, SHAPES } from '../lib/sessions.mjs';

async function encodings(client) {
  const seen = new Map();
  let bytes = 0;
  let sampled = 0;
  for (let i = 0; i < 100; i++) {
    const key = await client.randomkeyBuffer();
    if (!key) break;
    const enc = await client.object('ENCODING', key);
    seen.set(enc, (seen.get(enc) ?? 0) + 1);
    if (enc === 'listpack' || enc === 'hashtable') {
      bytes += Number(await client.memory('USAGE', key));
      sampled++;
    }
  }
  const mix = [...seen].map(([e, n]) => `${e} ${n}%`).join(', ');
  return { encodings: mix, bucketBytes: sampled ? Math.round(bytes / sampled) : '–' };
}

export async function memoryRows({ quick, log }) {
  const plan = quick
    ? [
        ['typical', 100_000],
        ['2KB', 20_000],
        ['20KB', 2_000],
      ]
    : [
        ['typical', 100_000],
        ['typical', 1_000_000],
        ['2KB', 100_000],
        ['20KB', 100_000],
      ];
  const rows = [];
  for (const [shape, count] of plan) {
    let baseline = null;
    for (const contender of CONTENDERS.filter((c) => !c.throughputOnly && !(c.largeOnly && shape === 'typical'))) {
      const server = await startRedis();
      const before = await server.usedMemory();
      const store = await contender.open(server);
      await fill(count, 64, () => store.set(newId(), SHAPES[shape]()));
      const perSession = Math.round(((await server.usedMemory()) - before) / count);
      baseline ??= perSession;
      const enc = await encodings(server.client);
      rows.push({
        session: shape,
        sessions: count,
        store: contender.name,
        'bytes/session': perSession,
        'vs connect-redis': (perSession / baseline).toFixed(2),
        'key encodings (100 random keys)': enc.encodings,
        'MEMORY USAGE per bucket': contender.name.includes('hash') ? enc.bucketBytes : '–',
      });
      log(`  ${shape} x ${count} ${contender.name}: ${perSession} B/session`);
      await store.close();
      await server.stop();
    }
  }
  return rows;
}
