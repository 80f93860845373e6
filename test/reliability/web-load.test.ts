import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { sleep } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * Redis is SIGKILLed and restarted on the same port in the middle of a web load: visitors log in
 * (a new session, written, answered only once stored) and read their session back, through a real
 * express + express-session server running as its own process.
 */

const APP = new URL('./fixtures/express-app.mjs', import.meta.url).pathname;
const COMMAND_TIMEOUT_MS = 1000;
/** A request still unanswered after this long counts as hung. */
const HANG_MS = 10_000;
const VISITORS = 4;

interface App {
  port: number;
  events: Array<Record<string, unknown>>;
  alive: () => boolean;
  stop: () => Promise<number | null>;
}

async function startApp(env: Record<string, string>): Promise<App> {
  const proc = spawn(process.execPath, [APP], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const event = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
        buffer = buffer.slice(nl + 1);
        events.push(event);
        if (event.type === 'listening') resolve(event.port as number);
      }
    });
    void exited.then((code) => reject(new Error(`the app exited (${code}) before listening: ${stderr}`)));
  });
  return {
    port,
    events,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

interface Call {
  start: number;
  end: number;
  kind: 'login' | 'me';
  /** HTTP status, or why there is none */
  status: number | 'network error' | 'hung';
}

interface Login {
  user: string;
  cookie: string;
  ackedAt: number;
}

async function call(url: string, init: RequestInit, calls: Call[], kind: Call['kind']) {
  const start = Date.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(HANG_MS) });
    const body = (await res.json()) as { user?: string | null };
    calls.push({ start, end: Date.now(), kind, status: res.status });
    return { res, body };
  } catch (err) {
    const hung = (err as Error).name === 'TimeoutError';
    calls.push({ start, end: Date.now(), kind, status: hung ? 'hung' : 'network error' });
    return null;
  }
}

/** One visitor after another: log in as a new user, then read the session back. */
async function visitor(base: string, id: number, running: () => boolean, calls: Call[], logins: Login[]) {
  for (let n = 0; running(); n++) {
    const user = `u${id}-${n}`;
    const login = await call(`${base}/login/${user}`, { method: 'POST' }, calls, 'login');
    if (login?.res.status === 200) {
      const cookie = (login.res.headers.get('set-cookie') ?? '').split(';')[0] as string;
      logins.push({ user, cookie, ackedAt: Date.now() });
      const me = await call(`${base}/me`, { headers: { cookie } }, calls, 'me');
      // while Redis is up, a session reads back as its own; never as another visitor's
      if (me?.res.status === 200) expect(me.body.user).toBe(user);
    }
    await sleep(login?.res.status === 200 ? 5 : 50);
  }
}

const servers: RedisServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.destroy()));
});

describe('Redis SIGKILLed and restarted on the same port during a web load (express-session)', () => {
  it.each([
    ['AOF, appendfsync always', 'hash'],
    ['AOF, appendfsync always', 'string'],
    ['no persistence', 'hash'],
  ] as const)(
    '%s, %s mode: errors while down, no hang, no crash, recovers by itself',
    async (persistence, mode) => {
      assertBuilt();
      const aof = persistence.startsWith('AOF');
      const redis = await startRedisServer(aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : []);
      servers.push(redis);
      const app = await startApp({
        REDIS_PORT: String(redis.port),
        SESSION_MODE: mode,
        SESSION_PREFIX: `load-${randomBytes(3).toString('hex')}:`,
        COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
      });
      const base = `http://127.0.0.1:${app.port}`;
      const calls: Call[] = [];
      const logins: Login[] = [];
      let running = true;
      const visitors = Array.from({ length: VISITORS }, (_, i) => visitor(base, i, () => running, calls, logins));

      await sleep(1000);
      await redis.stop(true); // SIGKILL
      const downAt = Date.now();
      await sleep(1500);
      const restartAt = Date.now();
      await redis.restart();
      const backAt = Date.now();
      // recovered when every visitor has logged in again since the restart
      const deadline = backAt + 20_000;
      while (new Set(logins.filter((l) => l.ackedAt > backAt).map((l) => l.user.split('-')[0])).size < VISITORS) {
        if (Date.now() > deadline) break;
        await sleep(50);
      }
      const recoveredAt = Date.now();
      await sleep(500);
      running = false;
      await Promise.all(visitors);

      // every session a visitor was told is stored: still there?
      let lostBefore = 0;
      let lostAfter = 0;
      for (const login of logins) {
        const me = await fetch(`${base}/me`, { headers: { cookie: login.cookie } });
        const { user } = (await me.json()) as { user: string | null };
        expect(me.status).toBe(200);
        if (user === null) {
          // acknowledged before the new Redis process existed: written to the one that was killed
          if (login.ackedAt < restartAt) lostBefore++;
          else lostAfter++;
        } else {
          expect(user).toBe(login.user);
        }
      }
      const before = logins.filter((l) => l.ackedAt < restartAt).length;
      const after = logins.length - before;
      const duringOutage = calls.filter((c) => c.start >= downAt && c.end <= restartAt);
      const longest = Math.max(...calls.map((c) => c.end - c.start));
      const statuses = [...new Set(duringOutage.map((c) => c.status))];
      console.log(
        `[web-load] ${persistence}, ${mode} mode: ${calls.length} requests; sessions written ${logins.length} ` +
          `(${before} before the restart, ${after} after), lost ${lostBefore + lostAfter} ` +
          `(${lostBefore} of those before the restart); during the outage ${duringOutage.length} requests, ` +
          `answered ${statuses.join('/')}; longest request ${longest} ms; recovered ${recoveredAt - backAt} ms after Redis was back`,
      );

      expect(before).toBeGreaterThan(0);
      expect(after).toBeGreaterThan(0);
      expect(recoveredAt).toBeLessThan(deadline); // it came back by itself
      expect(calls.some((c) => c.status === 'hung')).toBe(false);
      expect(duringOutage.length).toBeGreaterThan(0);
      expect(statuses).toEqual([503]); // errors, answered, not dropped connections
      // no request waited much past the command timeout plus a reconnect attempt
      expect(longest).toBeLessThan(COMMAND_TIMEOUT_MS + 4000);
      expect(lostAfter).toBe(0);
      if (aof) expect(lostBefore).toBe(0);
      else expect(lostBefore).toBe(before); // without persistence a restart loses everything, by definition
      // the process never crashed nor saw an unhandled rejection, and logged the outage
      expect(app.alive()).toBe(true);
      expect(app.events.filter((e) => /unhandledRejection|uncaughtException/.test(String(e.type)))).toEqual([]);
      expect(app.events.some((e) => /connection is back/.test(String(e.msg)))).toBe(true);
      expect(await app.stop()).toBe(0);
    },
    60_000,
  );
});
