import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { RedisStore } from 'connect-redis';
import session from 'express-session';
import { createClient } from 'redis';
import { RedisessionStore } from 'redisession/express';
import { afterAll, describe, expect, it } from 'vitest';
import { baseUrl, close, listen } from '../helpers/http.js';
import { dropPrefix, rawClient, redisUrl, sleep, testPrefix } from '../helpers/redis.js';

/*
 * The store-related cases of express-session's own test file (test/session.js, express-session
 * 1.18/1.19: the cases that go through the store, rewritten with fetch instead of supertest),
 * run against redisession in both modes and against connect-redis as the control. Left out: the
 * cases about cookies, proxies, secrets and res.end patching (no store involved), and the ones
 * that swap the store's methods for failing stubs, except "touch error", which is covered where
 * it differs on purpose (test/e2e/express.test.ts: a failed touch is logged, not sent to next()).
 */

type Kind = 'hash' | 'string' | 'connect-redis';
type Req = IncomingMessage & { session: session.Session & Record<string, unknown>; sessionID: unknown };
type Respond = (req: Req, res: ServerResponse) => void;

const raw = rawClient();
const nodeRedis = createClient({ url: redisUrl() });
const prefixes: string[] = [];
const servers: Server[] = [];
const stores: RedisessionStore[] = [];
afterAll(async () => {
  await Promise.all(servers.map(close));
  await Promise.all(stores.map((s) => s.close()));
  for (const p of prefixes) await dropPrefix(raw, p);
  if (nodeRedis.isOpen) nodeRedis.destroy();
});

const min = 60_000;

interface Reply {
  status: number;
  text: string;
  setCookie: string | undefined;
}

/** express-session's createServer(options, respond): the middleware, then respond; errors as 500. */
async function server(
  store: session.Store,
  options: Partial<session.SessionOptions> | null,
  respond: Respond = (_req, res) => res.end(),
) {
  const middleware = session({ secret: 'keyboard cat', cookie: { maxAge: min }, ...options, store });
  const errors: Error[] = [];
  const s = createServer((req, res) => {
    middleware(req as never, res as never, (err?: unknown) => {
      if (err && !res.headersSent) {
        res.statusCode = (err as { status?: number }).status ?? 500;
        res.end((err as Error).message);
        return;
      }
      if (err) {
        errors.push(err as Error);
        return;
      }
      respond(req as Req, res);
    });
  });
  servers.push(await listen(s));
  const base = baseUrl(s);
  const request = async (path = '/', cookie?: string): Promise<Reply> => {
    const res = await fetch(base + path, cookie ? { headers: { cookie } } : {});
    return { status: res.status, text: await res.text(), setCookie: res.headers.getSetCookie()[0] };
  };
  return { request, errors, base };
}

/** The cookie to send back (name=value), and the session id inside it. */
const cookie = (r: Reply) => (r.setCookie ?? '').split(';')[0] as string;
const sidOf = (r: Reply) => {
  const value = decodeURIComponent(cookie(r).split('=')[1] ?? '');
  return value.slice(2, value.indexOf('.'));
};

/** Counts store.set calls from now on, as the suite's shouldSetSessionInStore does. */
function countSets(store: session.Store) {
  const original = store.set;
  let count = 0;
  store.set = function (this: session.Store, ...args: Parameters<session.Store['set']>) {
    count++;
    return original.apply(this, args);
  } as session.Store['set'];
  return () => count;
}

/** A store method called the callback way, as express-session calls it. */
// biome-ignore lint/suspicious/noExplicitAny: express-session's callback types differ per method
const call = <T>(fn: (cb: (err: any, value?: any) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));

async function makeStore(kind: Kind): Promise<session.Store> {
  const prefix = testPrefix(`es-${kind}`);
  prefixes.push(prefix);
  if (kind === 'connect-redis') {
    if (!nodeRedis.isOpen) await nodeRedis.connect();
    return new RedisStore({ client: nodeRedis, prefix });
  }
  const store = new RedisessionStore({ client: redisUrl(), mode: kind, prefix });
  stores.push(store);
  return store;
}

describe.each(['hash', 'string', 'connect-redis'] as const)("express-session's store tests: %s", (kind) => {
  it('should create a new session', async () => {
    const store = await makeStore(kind);
    const app = await server(store, null, (req, res) => {
      req.session.active = true;
      res.end('session active');
    });
    const r = await app.request();
    expect(r.text).toBe('session active');
    expect(cookie(r)).toMatch(/^connect\.sid=/);
    expect(await call<number>((cb) => store.length?.(cb))).toBe(1);
  });

  it('should load session from cookie sid', async () => {
    let count = 0;
    const app = await server(await makeStore(kind), null, (req, res) => {
      req.session.num = req.session.num || ++count;
      res.end(`session ${req.session.num}`);
    });
    const first = await app.request();
    expect(first.text).toBe('session 1');
    expect((await app.request('/', cookie(first))).text).toBe('session 1');
  });

  it('should create multiple sessions', async () => {
    const store = await makeStore(kind);
    let count = 0;
    const app = await server(store, null, (req, res) => {
      const isNew = req.session.num === undefined;
      req.session.num = req.session.num || ++count;
      res.end(`session ${isNew ? 'created' : 'updated'}`);
    });
    const replies = await Promise.all([app.request(), app.request()]);
    expect(replies.map((r) => r.text)).toEqual(['session created', 'session created']);
    const all = await call<object>((cb) => store.all?.(cb));
    expect(Object.keys(all).length).toBe(2);
  });

  it('should handle reserved properties in storage', async () => {
    const store = await makeStore(kind);
    let sid = '';
    let count = 0;
    const app = await server(store, null, (req, res) => {
      sid = req.session.id;
      req.session.num = req.session.num || ++count;
      res.end('session saved');
    });
    const r = await app.request();
    const sess = await call<Record<string, unknown>>((cb) => store.get(sid, cb));
    sess.save = 'nope'; // save is reserved
    await call((cb) => store.set(sid, sess as never, cb));
    expect((await app.request('/', cookie(r))).text).toBe('session saved');
  });

  it('should not save with bogus req.sessionID', async () => {
    const store = await makeStore(kind);
    const app = await server(store, null, (req, res) => {
      req.sessionID = () => {};
      req.session.test1 = 1;
      res.end();
    });
    const r = await app.request();
    expect(r.setCookie).toBeUndefined();
    expect(await call<number>((cb) => store.length?.(cb))).toBe(0);
  });

  it('should have saved session with updated cookie expiration', async () => {
    const store = await makeStore(kind);
    const app = await server(store, null, (req, res) => {
      req.session.user = 'bob';
      res.end(req.session.id);
    });
    const first = await app.request();
    const id = first.text;
    const stored = await call<session.SessionData>((cb) => store.get(id, cb));
    const exp = new Date(stored.cookie.expires as unknown as string);
    expect(first.setCookie).toContain(`Expires=${exp.toUTCString()}`);
    await sleep(1000 - (Date.now() % 1000) + 200); // the next second, as the original waits
    const second = await app.request('/', cookie(first));
    expect(second.text).toBe(id);
    const again = await call<session.SessionData>((cb) => store.get(id, cb));
    expect(new Date(again.cookie.expires as unknown as string).toUTCString()).not.toBe(exp.toUTCString());
  });

  it('when sid not in store: should create a new session with a new sid', async () => {
    const store = await makeStore(kind);
    let count = 0;
    const app = await server(store, null, (req, res) => {
      req.session.num = req.session.num || ++count;
      res.end(`session ${req.session.num}`);
    });
    const first = await app.request();
    await call((cb) => store.clear?.(cb));
    const second = await app.request('/', cookie(first));
    expect(second.text).toBe('session 2');
    expect(sidOf(second)).not.toBe(sidOf(first));
  });

  it('when session expired in store: should create a new session, and the old one is not in all()', async () => {
    const store = await makeStore(kind);
    let count = 0;
    const app = await server(store, { cookie: { maxAge: 5 } }, (req, res) => {
      req.session.num = req.session.num || ++count;
      res.end(`session ${req.session.num}`);
    });
    const first = await app.request();
    expect(first.text).toBe('session 1');
    await sleep(20);
    const listed = await call<object[]>((cb) => store.all?.(cb));
    const second = await app.request('/', cookie(first));
    if (kind === 'connect-redis') {
      // connect-redis fails this case (usually): its TTL is whole seconds (EX, rounded up), so for
      // up to a second after the cookie expired it still lists and answers the session, and
      // express-session carries on with it. Only the control is let off; redisession keeps ms.
      expect(['session 1', 'session 2']).toContain(second.text);
      return;
    }
    expect(listed).toEqual([]);
    expect(second.text).toBe('session 2');
    expect(sidOf(second)).not.toBe(sidOf(first));
  });

  it('when session without cookie property in store: should pass error from inflate', async () => {
    const store = await makeStore(kind);
    let count = 0;
    const app = await server(store, null, (req, res) => {
      req.session.num = req.session.num || ++count;
      res.end(`session ${req.session.num}`);
    });
    const first = await app.request();
    await call((cb) => store.set(sidOf(first), { foo: 'bar' } as never, cb));
    const second = await app.request('/', cookie(first));
    expect(second.status).toBe(500);
    expect(second.text).toMatch(/Cannot read prop/);
  });

  it('resave false: should prevent save on unmodified session, and still save a modified one', async () => {
    const store = await makeStore(kind);
    const app = await server(store, { resave: false }, (req, res) => {
      if (req.url !== '/') req.session.token = req.url?.slice(1);
      res.end(`token=${req.session.token ?? ''}`);
    });
    let sets = countSets(store);
    const first = await app.request('/w6RHhwaA');
    expect(first.text).toBe('token=w6RHhwaA');
    expect(sets()).toBe(1);
    sets = countSets(store);
    expect((await app.request('/', cookie(first))).text).toBe('token=w6RHhwaA');
    expect(sets()).toBe(0);
    sets = countSets(store);
    expect((await app.request('/zfQ3rzM3', cookie(first))).text).toBe('token=zfQ3rzM3');
    expect(sets()).toBe(1);
  });

  it('saveUninitialized false: no save, no cookie, no touch of an uninitialized session', async () => {
    const store = await makeStore(kind);
    const sets = countSets(store);
    let touched = false;
    const touch = store.touch?.bind(store);
    store.touch = (sid, sess, cb) => {
      touched = true;
      touch?.(sid, sess, cb);
    };
    const app = await server(store, { saveUninitialized: false });
    const r = await app.request();
    expect(r.setCookie).toBeUndefined();
    expect(sets()).toBe(0);
    expect(touched).toBe(false);
  });

  it("unset 'destroy': req.session = null destroys the session in the store", async () => {
    const store = await makeStore(kind);
    const app = await server(store, { unset: 'destroy' }, (req, res) => {
      req.session.count = ((req.session.count as number) || 0) + 1;
      if (req.session.count === 2) (req as { session: unknown }).session = null;
      res.end();
    });
    const first = await app.request();
    expect(await call<number>((cb) => store.length?.(cb))).toBe(1);
    await app.request('/', cookie(first));
    expect(await call<number>((cb) => store.length?.(cb))).toBe(0);
  });

  it('req.session.destroy() and .regenerate()', async () => {
    const store = await makeStore(kind);
    const destroying = await server(store, null, (req, res) => {
      req.session.destroy((err) => {
        if (err) res.statusCode = 500;
        res.end(String(req.session));
      });
    });
    const d = await destroying.request();
    expect(d.text).toBe('undefined');
    expect(d.setCookie).toBeUndefined();

    const regenerating = await server(store, null, (req, res) => {
      const id = req.session.id;
      req.session.regenerate((err) => {
        if (err) res.statusCode = 500;
        res.end(String(req.session.id === id));
      });
    });
    const first = await regenerating.request();
    const second = await regenerating.request('/', cookie(first));
    expect(second.text).toBe('false');
    expect(sidOf(second)).not.toBe(sidOf(first));
  });

  it('req.session.reload(): reloads from the store; errors when the session is missing', async () => {
    const store = await makeStore(kind);
    let val = '';
    const app = await server(store, null, (req, res) => {
      if (req.url === '/') {
        req.session.active = true;
        res.end('session created');
        return;
      }
      req.session.url = req.url;
      if (req.url === '/bar') {
        res.end(`saw ${req.session.url}`);
        return;
      }
      // another request changes the stored session meanwhile; reload must see it
      app.request('/bar', val).then(() =>
        req.session.reload((err: unknown) => {
          if (err) res.statusCode = 500;
          res.end(`saw ${req.session.url}`);
        }),
      );
    });
    val = cookie(await app.request());
    expect((await app.request('/foo', val)).text).toBe('saw /bar');

    const missing = await server(store, null, (req, res) => {
      if (req.url === '/') {
        req.session.active = true;
        res.end('session created');
        return;
      }
      store.clear?.(() =>
        req.session.reload((err: unknown) => {
          res.statusCode = err ? 500 : 200;
          res.end(err ? (err as Error).message : '');
        }),
      );
    });
    const created = await missing.request();
    const r = await missing.request('/foo', cookie(created));
    expect([r.status, r.text]).toEqual([500, 'failed to load session']);
  });

  it('req.session.reload() many times over a missing session does not overflow', async () => {
    const store = await makeStore(kind);
    const app = await server(store, { resave: false }, (req, res) => {
      if (req.url === '/') {
        req.session.active = true;
        res.end('session created');
        return;
      }
      store.clear?.(() => {
        let iters = 20;
        const reload = () => {
          if (!--iters) {
            res.end('ok');
            return;
          }
          try {
            req.session.reload(reload);
          } catch (e) {
            res.statusCode = 500;
            res.end((e as Error).message);
          }
        };
        reload();
      });
    });
    const created = await app.request();
    expect((await app.request('/foo', cookie(created))).text).toBe('ok');
  });

  it('req.session.save(): stores the session, and prevents the end-of-request save', async () => {
    const store = await makeStore(kind);
    const app = await server(store, null, (req, res) => {
      req.session.hit = true;
      req.session.save((err) => {
        if (err) {
          res.end((err as Error).message);
          return;
        }
        store.get(req.session.id, (e, sess) => res.end(e ? (e as Error).message : sess ? 'stored' : 'empty'));
      });
    });
    const sets = countSets(store);
    expect((await app.request()).text).toBe('stored');
    expect(sets()).toBe(1);
  });

  it('req.session.touch() with resave false: the stored cookie.expires moves (hash mode only)', async () => {
    const store = await makeStore(kind);
    const app = await server(store, { resave: false, cookie: { maxAge: min } }, (req, res) => {
      req.session.hit = true;
      req.session.touch();
      res.end();
    });
    const first = await app.request();
    const id = sidOf(first);
    const before = await call<session.SessionData>((cb) => store.get(id, cb));
    await sleep(100);
    await app.request('/', cookie(first));
    const after = await call<session.SessionData>((cb) => store.get(id, cb));
    const moved =
      new Date(after.cookie.expires as never).getTime() !== new Date(before.cookie.expires as never).getTime();
    // express-session's MemoryStore rewrites the stored cookie on touch. connect-redis only moves
    // the key's TTL (the stored cookie keeps the last set's expires) and so does string mode, for
    // the reason in the README ("touch"); hash mode keeps the expiry inside the value, and the
    // compact serializer answers with it. The session's lifetime in Redis moves in all three.
    expect(moved).toBe(kind === 'hash');
  });
});
