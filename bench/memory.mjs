// Bytes per session in Redis for each layout: `npm run build && node bench/memory.mjs [count]`.
// Starts its own redis-server on a free loopback port. The full suite is `npm run bench`.
import { randomBytes } from 'node:crypto';
import { createSessionStore } from '../dist/index.js';
import { startRedis } from './lib/server.mjs';

const COUNT = Number(process.argv[2] ?? 100_000);

function typicalSession() {
  const maxAge = 86_400_000;
  return {
    cookie: {
      originalMaxAge: maxAge,
      expires: new Date(Date.now() + maxAge).toISOString(),
      secure: false,
      httpOnly: true,
      path: '/',
    },
    userId: 100_000 + Math.floor(Math.random() * 900_000),
    csrfToken: randomBytes(16).toString('hex'),
  };
}

async function fill(write) {
  const ids = Array.from({ length: COUNT }, () => randomBytes(24).toString('base64url'));
  for (let i = 0; i < ids.length; i += 500)
    await Promise.all(ids.slice(i, i + 500).map((id) => write(id, typicalSession())));
}

const contenders = [
  {
    name: 'connect-redis layout (SET sess:<id> JSON EX)',
    redisArgs: [],
    run: (client) => fill((id, s) => client.set(`sess:${id}`, JSON.stringify(s), 'EX', 86_400)),
  },
  { name: 'redisession string mode', redisArgs: [], store: { mode: 'string' } },
  { name: 'redisession hash mode, Redis defaults', redisArgs: [], store: { mode: 'hash' } },
  {
    name: "redisession string mode, serializer 'compact'",
    redisArgs: [],
    store: { mode: 'string', serializer: 'compact' },
  },
  {
    name: "redisession hash mode, serializer 'compact', Redis defaults",
    redisArgs: [],
    store: { mode: 'hash', serializer: 'compact' },
  },
  {
    name: 'redisession hash mode, hash-max-listpack-value 256',
    redisArgs: ['--hash-max-listpack-value', '256'],
    store: { mode: 'hash' },
  },
];

const rows = [];
for (const c of contenders) {
  const redis = await startRedis(c.redisArgs);
  const before = await redis.usedMemory();
  let sample = '';
  if (c.run) await c.run(redis.client);
  else {
    const store = createSessionStore({ redis: redis.client, ...c.store });
    await fill((id, s) => store.set(id, s));
    const encodings = new Map();
    for (let i = 0; i < 200; i++) {
      const k = await redis.client.randomkeyBuffer();
      const e = k && (await redis.client.object('ENCODING', k));
      if (e) encodings.set(e, (encodings.get(e) ?? 0) + 1);
    }
    sample = [...encodings].map(([e, n]) => `${e} ${Math.round(n / 2)}%`).join(', ');
  }
  const after = await redis.usedMemory();
  rows.push({
    layout: c.name,
    sessions: COUNT,
    bytesPerSession: Math.round((after - before) / COUNT),
    encoding: sample || '-',
  });
  await redis.stop();
}
console.table(rows);
// the same as a markdown table, for the README
console.log('\n| layout | sessions | bytes/session | bucket encoding (sample of 200) |\n| --- | ---: | ---: | --- |');
for (const r of rows) console.log(`| ${r.layout} | ${r.sessions} | ${r.bytesPerSession} | ${r.encoding} |`);
