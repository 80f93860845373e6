// The bulk move under a web load: `npm run build && node bench/migrate-load.mjs [sessions] [layout]`.
// Fills a private redis-server with legacy sessions (layout 'hash': redisession hash mode under
// 'old:', moved into string mode; 'connect-redis': `sess:` JSON strings, moved into hash mode),
// then runs runMigration while another process reads 20,000 hash-mode sessions (4 in flight), and
// prints sessions moved per second and the readers' get p50/p99 before (idle) and during the move.
import { createSessionStore, runMigration } from '../dist/index.js';
import { fill, getsDuring } from './lib/measure.mjs';
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

const { result, seconds, idle, during } = await getsDuring(server, ids, () => runMigration(store), 'web:');
console.log(
  JSON.stringify({
    layout,
    sessions: N,
    moved: result.moved,
    seconds: Number(seconds.toFixed(2)),
    perSecond: Math.round(result.moved / seconds),
    idle,
    during,
  }),
);
await server.stop();
process.exit(0);
