// `npm run demo`: the main job end to end on a private redis-server. Writes a population of
// express-session-like sessions (half of them expired), starts a worker, enqueues an ad-hoc sweep
// and follows its progress, prints the summary, then stops everything and removes its files.
import { execFileSync, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createSessionStore } from '../dist/index.js';

const SESSIONS = Number(process.env.DEMO_SESSIONS ?? 100_000);
const BIN = new URL('../worker/dist/cli/main.js', import.meta.url).pathname;
const say = (text) => process.stdout.write(`\n== ${text}\n`);

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const dir = mkdtempSync(join(tmpdir(), 'redisession-demo-'));
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir], {
  stdio: 'ignore',
});
const url = `redis://127.0.0.1:${port}`;
const raw = new Redis(url, { retryStrategy: (n) => (n > 50 ? null : 100) });
raw.on('error', () => {}); // refused until redis-server is up; ping() below waits for it
await raw.ping();
say(`redis-server ${url} (private, removed at the end)`);

// 8192 buckets: about a dozen sessions per bucket at 100k, where hash mode makes sense
const BUCKETS = 8192;
const env = {
  ...process.env,
  REDIS_URL: url,
  SESSION_BUCKETS: String(BUCKETS),
  CLEANUP_SCHEDULE: 'off',
  CLEANUP_GRACE: '0',
  CLEANUP_SHARDS: '4',
  LOG_LEVEL: 'warn',
};
let worker;
try {
  say(`writing ${SESSIONS} sessions through the store: half live for a day, half expire in 2 s`);
  const store = createSessionStore({ redis: raw, buckets: BUCKETS, inlineSweep: 0 });
  const started = Date.now();
  for (let i = 0; i < SESSIONS; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, SESSIONS - i) }, (_, j) => {
        const live = (i + j) % 2 === 0;
        const maxAge = live ? 86_400_000 : 2000;
        const session = {
          cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge), httpOnly: true, path: '/' },
          userId: 1000 + i + j,
          csrfToken: randomBytes(16).toString('hex'),
        };
        return store.set(randomBytes(24).toString('base64url'), session);
      }),
    );
  }
  console.log(`done in ${Date.now() - started} ms`);
  await new Promise((r) => setTimeout(r, 2500));
  say('`redisession stats` once the short-lived half has expired (sampled)');
  console.log(execFileSync(process.execPath, [BIN, 'stats', '--sample', '2048'], { env, encoding: 'utf8' }));

  say('starting `redisession worker`');
  worker = fork(BIN, ['worker'], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve, reject) => {
    worker.on('message', (m) => m === 'ready' && resolve());
    worker.on('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  console.log('worker ready');

  say('`redisession cleanup --wait` (progress on stderr, summary on stdout)');
  execFileSync(process.execPath, [BIN, 'cleanup', '--wait'], { env, stdio: 'inherit' });
  say('`redisession stats` after the sweep');
  console.log(execFileSync(process.execPath, [BIN, 'stats', '--sample', '2048'], { env, encoding: 'utf8' }));
} finally {
  worker?.kill('SIGTERM');
  await raw.quit().catch(() => {});
  server.kill();
  rmSync(dir, { recursive: true, force: true });
  say('cleaned up');
}
