// The bulk move under a web load: `npm run build && node bench/migrate-load.mjs [sessions] [layout]`.
// Fills a private redis-server with legacy sessions (layout 'hash': redisession hash mode under
// 'old:', moved into string mode; 'connect-redis': `sess:` JSON strings, moved into hash mode),
// then runs runMigration while another process reads 20,000 hash-mode sessions (4 in flight), and
// prints sessions moved per second and the readers' get p50/p99 before (idle) and during the move.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSessionStore, runMigration } from '../dist/index.js';
import { fill } from './lib/measure.mjs';
import { startRedis } from './lib/server.mjs';
import { newId, typical } from './lib/sessions.mjs';

const N = Number(process.argv[2] ?? 300_000);
const layout = process.argv[3] ?? 'hash';
const server = await startRedis();
const client = server.client;
const store =
  layout === 'hash'
    ? createSessionStore({ redis: client, inlineSweep: 0, mode: 'string', legacy: { layout: 'hash', prefix: 'old:' } })
    : createSessionStore({ redis: client, inlineSweep: 0, legacy: { layout: 'connect-redis' } });
const old = createSessionStore({ redis: client, inlineSweep: 0, prefix: 'old:' });
const web = createSessionStore({ redis: client, inlineSweep: 0, prefix: 'web:' });
const ids = [];
await fill(20_000, 64, () => {
  const id = newId();
  ids.push(id);
  return web.set(id, typical());
});
if (layout === 'hash') await fill(N, 64, () => old.set(newId(), typical()));
else await fill(N, 64, () => client.set(`sess:${newId()}`, JSON.stringify(typical()), 'EX', 86400));

const child = fork(fileURLToPath(new URL('./lib/get-load.mjs', import.meta.url)));
const reply = (pred) => new Promise((resolve) => child.on('message', (m) => pred(m) && resolve(m)));
const ready = reply((m) => m.ready);
child.send({ ids, url: server.url, prefix: 'web:' });
await ready;
await new Promise((r) => setTimeout(r, 500)); // warm-up, not recorded
child.send({ window: 'idle' });
await new Promise((r) => setTimeout(r, 2000));
child.send({ window: 'during' });
await reply((m) => m.window === 'during');
const started = Date.now();
const result = await runMigration(store);
const ms = Date.now() - started;
child.send({ window: null });
const done = reply((m) => m.report);
child.send({ report: true });
const { report } = await done;
await new Promise((r) => child.once('exit', r));
console.log(
  JSON.stringify({
    layout,
    sessions: N,
    moved: result.moved,
    ms,
    perSecond: Math.round(result.moved / (ms / 1000)),
    idle: report.idle,
    during: report.during,
  }),
);
await server.stop();
process.exit(0);
