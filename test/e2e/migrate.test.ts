import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { createSessionStore } from 'redisession';
import { RedisessionStore } from 'redisession/express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dropQueues, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { baseUrl, CookieJar, close, listen } from '../helpers/http.js';
import { dropPrefix, keysUnder, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';

declare module 'express-session' {
  interface SessionData {
    user: string;
    visits: number;
  }
}

const raw = rawClient();
const oldPrefix = testPrefix('cr');
const newPrefix = testPrefix('rs');
const queueName = `q-migrate-${randomBytes(4).toString('hex')}`;
const servers: Server[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
let worker: WorkerProcess | null = null;

beforeAll(assertBuilt);
afterAll(async () => {
  if (worker) await killWorker(worker);
  await Promise.all(servers.map(close));
  for (const c of cleanups) await c();
  await dropPrefix(raw, oldPrefix);
  await dropPrefix(raw, newPrefix);
  await dropQueues([queueName]);
});

/** The same app on any store: what a team runs before and after switching. */
async function app(store: session.Store): Promise<string> {
  const a = express();
  a.use(
    session({ store, secret: 'shared secret', resave: false, saveUninitialized: false, cookie: { maxAge: 600_000 } }),
  );
  a.post('/login/:user', (req, res) => {
    req.session.user = req.params.user;
    res.json({ ok: true });
  });
  a.get('/me', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ user: req.session.user ?? null, visits: req.session.visits });
  });
  a.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  const server = await listen(createServer(a));
  servers.push(server);
  return baseUrl(server);
}

const me = async (b: CookieJar) => (await b.request('/me')).body as { user: string | null; visits: number };

describe('switching from connect-redis 9 to redisession hash mode', () => {
  const N = 40;
  const browsers: Array<{ user: string; jar: CookieJar }> = [];
  let redisessionBase = '';

  it('users logged in on connect-redis stay logged in after the switch (read-through)', async () => {
    const client = createClient({ url: redisUrl() });
    await client.connect();
    cleanups.push(() => client.quit());
    const before = await app(new RedisStore({ client, prefix: oldPrefix }));
    for (let i = 0; i < N; i++) {
      const jar = new CookieJar(before);
      await jar.request(`/login/user-${i}`, { method: 'POST' });
      expect(await me(jar)).toEqual({ user: `user-${i}`, visits: 1 });
      browsers.push({ user: `user-${i}`, jar });
    }
    expect((await keysUnder(raw, oldPrefix)).length).toBe(N);

    const store = new RedisessionStore({
      redis: redisUrl(),
      mode: 'hash',
      prefix: newPrefix,
      buckets: 256,
      legacy: { layout: 'connect-redis', prefix: oldPrefix },
    });
    cleanups.push(() => store.close());
    redisessionBase = await app(store);
    // the browsers now talk to the new app, with the cookies they already have
    for (const b of browsers) {
      const jar = new CookieJar(redisessionBase);
      for (const [k, v] of b.jar.cookies) jar.cookies.set(k, v);
      b.jar = jar;
    }

    // a quarter of the users come back before the bulk move: each moved on its first request
    for (const b of browsers.slice(0, N / 4)) expect(await me(b.jar)).toEqual({ user: b.user, visits: 2 });
    // several tabs of one user at once, on a session still in the legacy layout: none loses it
    const tabs = browsers[N / 4] as { user: string; jar: CookieJar };
    const seen = await Promise.all(Array.from({ length: 6 }, () => me(tabs.jar)));
    for (const s of seen) expect(s.user).toBe(tabs.user);
    expect((await keysUnder(raw, oldPrefix)).length).toBe(N - N / 4 - 1);
  });

  it('the bulk move (CLI + worker) moves the rest while users keep coming and new ones log in', async () => {
    const env = {
      REDIS_URL: redisUrl(),
      QUEUE_NAME: queueName,
      SESSION_MODE: 'hash',
      SESSION_PREFIX: newPrefix,
      SESSION_BUCKETS: '256',
      CLEANUP_SCHEDULE: 'off',
    };
    worker = startWorker(env);
    await worker.ready;
    const during: Array<{ user: string; jar: CookieJar }> = [];
    let traffic = true;
    const load = (async () => {
      let i = 0;
      while (traffic) {
        const jar = new CookieJar(redisessionBase);
        await jar.request(`/login/new-${i}`, { method: 'POST' });
        during.push({ user: `new-${i}`, jar });
        // users of the second quarter come back while the job runs; the second half stays away
        const old = browsers[N / 4 + 1 + (i % (N / 4 - 1))] as { user: string; jar: CookieJar };
        expect((await me(old.jar)).user).toBe(old.user);
        i++;
      }
    })();
    const run = await runCli(
      ['migrate', '--from', 'connect-redis', '--from-prefix', oldPrefix, '--batch', '5', '--wait', '--json'],
      env,
    );
    traffic = false;
    await load;
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { moved: number; newer: number; skipped: number; shards: number };
    expect(summary.shards).toBe(1);
    expect(summary.skipped).toBe(0);
    // the job moved at least the half nobody touched; the second quarter went either way mid-run
    expect(summary.moved).toBeGreaterThanOrEqual(N / 2);
    expect(summary.moved).toBeLessThanOrEqual(N - N / 4 - 1);
    expect((await keysUnder(raw, oldPrefix)).length).toBe(0);
    expect(during.length).toBeGreaterThan(0);

    for (const b of [...browsers, ...during]) expect((await me(b.jar)).user).toBe(b.user);

    // running it again finds nothing to move
    const again = await runCli(
      ['migrate', '--from', 'connect-redis', '--from-prefix', oldPrefix, '--wait', '--json'],
      env,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ moved: 0, newer: 0, scanned: 0 });
  });

  it('refuses a source that is the store itself, before queueing anything', async () => {
    const r = await runCli(
      ['migrate', '--from', 'hash', '--from-prefix', newPrefix, '--to', 'hash', '--prefix', newPrefix],
      {
        REDIS_URL: redisUrl(),
        QUEUE_NAME: queueName,
      },
    );
    expect(r.code).toBe(2); // bad arguments, as for every other command
    expect(r.stderr).toMatch(/names the store itself/);
  });
});

describe('the bulk move for a web tier with idSecret', () => {
  it('writes sessions under the keys the web tier looks for (SESSION_ID_SECRET), and never logs the secret', async () => {
    const secret = `s3cret-${randomBytes(12).toString('hex')}`;
    const from = testPrefix('cr-secret');
    const to = testPrefix('rs-secret');
    const queue = `${queueName}-secret`;
    const env = {
      REDIS_URL: redisUrl(),
      QUEUE_NAME: queue,
      SESSION_PREFIX: to,
      SESSION_BUCKETS: '64',
      SESSION_ID_SECRET: secret,
      CLEANUP_SCHEDULE: 'off',
    };
    const ids = Array.from({ length: 20 }, () => randomBytes(24).toString('base64url'));
    const cookie = { originalMaxAge: 600_000, httpOnly: true, path: '/' }; // express-session always stores one
    for (const [i, id] of ids.entries()) {
      await raw.set(`${from}${id}`, JSON.stringify({ cookie, user: `u${i}` }), 'EX', 600);
    }
    const w = startWorker(env);
    const web = createSessionStore({ redis: redisUrl(), prefix: to, buckets: 64, idSecret: secret });
    try {
      await w.ready;
      const run = await runCli(['migrate', '--from', 'connect-redis', '--from-prefix', from, '--wait', '--json'], env);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ moved: 20 });
      for (const [i, id] of ids.entries()) expect(await web.get(id)).toMatchObject({ user: `u${i}` });
      expect(`${run.stdout}${run.stderr}${JSON.stringify(w.logs)}`).not.toContain(secret);
    } finally {
      await killWorker(w);
      await web.close();
      await dropPrefix(raw, from);
      await dropPrefix(raw, to);
      await dropQueues([queue]);
    }
  });
});

describe('the bulk move from connect-redis leaves what is not a session alone', () => {
  const queue = `${queueName}-foreign`;
  // a worker serves one store: each test starts the target store's own
  let w: WorkerProcess | null = null;
  const workerFor = async (prefix: string) => {
    w = startWorker({ REDIS_URL: redisUrl(), QUEUE_NAME: queue, SESSION_PREFIX: prefix, CLEANUP_SCHEDULE: 'off' });
    await w.ready;
  };
  afterEach(async () => {
    if (w) await killWorker(w);
    w = null;
  });
  afterAll(async () => {
    await dropQueues([queue]);
  });
  const migrate = (from: string, to: 'hash' | 'string', prefix: string) =>
    runCli(
      [
        'migrate',
        '--from',
        'connect-redis',
        '--from-prefix',
        from,
        '--to',
        to,
        '--prefix',
        prefix,
        '--buckets',
        '64',
        '--wait',
        '--json',
      ],
      { REDIS_URL: redisUrl(), QUEUE_NAME: queue },
    );
  const cookie = { originalMaxAge: 600_000, httpOnly: true, path: '/' };

  it('app data under the prefix (no cookie: not an express session) is neither moved nor deleted', async () => {
    const from = testPrefix('cr-foreign');
    const to = testPrefix('rs-foreign');
    const ids = Array.from({ length: 5 }, () => randomBytes(24).toString('base64url'));
    for (const [i, id] of ids.entries()) {
      await raw.set(`${from}${id}`, JSON.stringify({ cookie, user: `u${i}` }), 'EX', 600);
    }
    const config = JSON.stringify({ featureFlags: { beta: true }, maintenance: false });
    await raw.set(`${from}config`, config); // the app's own key, no TTL
    await raw.set(`${from}counter`, '42');
    const store = createSessionStore({ redis: redisUrl(), prefix: to, buckets: 64 });
    await workerFor(to);
    try {
      const run = await migrate(from, 'hash', to);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ moved: 5, foreign: 2, skipped: 0, scanned: 5 });
      expect(await raw.get(`${from}config`)).toBe(config);
      expect(await raw.pttl(`${from}config`)).toBe(-1);
      expect(await raw.get(`${from}counter`)).toBe('42');
      expect(await store.get('config')).toBeNull();
      expect(await store.length()).toBe(5);
      for (const [i, id] of ids.entries()) expect(await store.get(id)).toMatchObject({ user: `u${i}` });
      const human = await runCli(
        ['migrate', '--from', 'connect-redis', '--from-prefix', from, '--prefix', to, '--buckets', '64', '--wait'],
        { REDIS_URL: redisUrl(), QUEUE_NAME: queue },
      );
      expect(human.stdout).toMatch(/nothing left to move; 2 foreign keys under the old prefix left alone/);
    } finally {
      await store.close();
      await dropPrefix(raw, from);
      await dropPrefix(raw, to);
    }
  });

  it('into string mode with the same prefix: the store keys are not legacy sessions, and a second run finds nothing', async () => {
    const prefix = testPrefix('same');
    const ids = Array.from({ length: 30 }, () => randomBytes(24).toString('base64url'));
    for (const [i, id] of ids.entries()) {
      await raw.set(`${prefix}${id}`, JSON.stringify({ cookie, user: `u${i}` }), 'EX', 600);
    }
    const store = createSessionStore({ redis: redisUrl(), mode: 'string', prefix });
    await workerFor(prefix);
    try {
      const first = await migrate(prefix, 'string', prefix);
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout)).toMatchObject({ moved: 30, skipped: 0, foreign: 0 });
      for (const [i, id] of ids.entries()) expect(await store.get(id)).toMatchObject({ user: `u${i}` });
      const second = await migrate(prefix, 'string', prefix);
      expect(second.code, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout)).toMatchObject({ scanned: 0, moved: 0, skipped: 0, foreign: 0 });
    } finally {
      await store.close();
      await dropPrefix(raw, prefix);
    }
  });
});
