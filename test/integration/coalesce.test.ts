import type { Socket } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { closeRedisConnections, coalesceWrites, configureRedis, createSessionStore, getRedis } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { writesCoalesced } from '../../src/redis/coalesce.js';
import { createRedisClient } from '../../src/redis/connections.js';
import { queueClient, sessionClient } from '../../worker/src/worker/redis-target.js';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';

/*
 * Write coalescing (src/redis/coalesce.ts) against the real server: what leaves the socket is
 * observed by counting the socket's own _write/_writev calls (each one hands bytes to the kernel).
 */

const raw = rawClient();
const prefix = testPrefix('coalesce');
const clients: Redis[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  await closeRedisConnections();
  await dropPrefix(raw, prefix);
});

function client(coalesced: boolean, options: RedisOptions = {}): Redis {
  const c = new Redis(redisUrl(), options);
  clients.push(c);
  return coalesced ? coalesceWrites(c) : c;
}

/** Counts the writes that reach the socket from now on, and keeps the text of each. */
function countWrites(socket: Socket): { writes: number; texts: string[] } {
  const counter = { writes: 0, texts: [] as string[] };
  const s = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  for (const name of ['_write', '_writev'] as const) {
    const original = s[name];
    s[name] = function (this: unknown, ...args: unknown[]) {
      counter.writes++;
      const chunks = name === '_write' ? [args[0]] : (args[0] as Array<{ chunk: unknown }>).map((c) => c.chunk);
      counter.texts.push(chunks.map(String).join(''));
      return original.apply(this, args);
    };
  }
  return counter;
}

const key = (name: string) => `${prefix}${name}`;

/** Replies with errors reduced to their message (an error also names its command's keys). */
function plain(value: unknown): unknown {
  if (value instanceof Error) return { err: value.message };
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

/** A mix of replies: strings, Buffers, numbers, arrays, nulls, errors, a pipeline, MULTI, a script. */
function workload(c: Redis, tag: string) {
  const k = (n: string) => key(`${tag}:${n}`);
  const settle = (p: Promise<unknown>) =>
    p.then(
      (v) => ({ ok: plain(v) }),
      (e: Error) => plain(e),
    );
  const binary = Buffer.from([0, 255, 1, 254, 13, 10]);
  return [
    c.set(k('s'), 'v'),
    c.get(k('s')),
    c.getBuffer(k('s')),
    c.incr(k('s')), // ERR value is not an integer
    c.hset(k('h'), 'f', binary),
    c.hgetBuffer(k('h'), 'f'),
    c.hgetBuffer(k('h'), 'missing'),
    c.rpush(k('l'), 'a', 'b', 'c'),
    c.lrange(k('l'), 0, -1),
    c
      .pipeline()
      .set(k('p'), '1')
      .incr(k('p'))
      .hget(k('s'), 'x') // WRONGTYPE inside a pipeline
      .getBuffer(k('p'))
      .exec(),
    c.multi().incr(k('m')).incr(k('m')).get(k('m')).exec(),
    c.eval("return {ARGV[1], redis.call('INCR', KEYS[1])}", 1, k('e'), 'arg'),
    c.evalsha('0000000000000000000000000000000000000000', 0), // NOSCRIPT
    c.get(k('s')),
  ].map(settle);
}

describe('coalesceWrites', () => {
  it('sends the commands of one tick in one socket write (each in its own write without it)', async () => {
    for (const coalesced of [false, true]) {
      const c = client(coalesced);
      await c.ping();
      const counter = countWrites(c.stream as Socket);
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => c.set(key(`tick:${i}`), i)));
      expect(replies).toEqual(Array(50).fill('OK'));
      if (coalesced) expect(counter.writes).toBe(1);
      else expect(counter.writes).toBeGreaterThan(10);
    }
  });

  it('changes no reply and no order: strings, Buffers, errors, pipelines, MULTI, scripts', async () => {
    const plain = client(false);
    const coalesced = client(true);
    await Promise.all([plain.ping(), coalesced.ping()]);
    const counter = countWrites(coalesced.stream as Socket);
    const [expected, got] = await Promise.all([
      Promise.all(workload(plain, 'a')),
      Promise.all(workload(coalesced, 'b')),
    ]);
    expect(counter.writes).toBe(1); // pipeline and MULTI included
    expect(got).toEqual(expected);
    expect(got[2]).toEqual({ ok: Buffer.from('v') });
    expect(got[3]).toEqual({ err: expect.stringMatching(/not an integer/) });
    expect(got[5]).toEqual({ ok: Buffer.from([0, 255, 1, 254, 13, 10]) });
    expect(got[12]).toEqual({ err: expect.stringMatching(/NOSCRIPT/) });
    // order: INCRs of one counter issued in one tick answer 1..n in the order issued
    const n = await Promise.all(Array.from({ length: 200 }, () => coalesced.incr(key('order'))));
    expect(n).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('script commands (defineCommand: EVALSHA, and EVAL after NOSCRIPT) of one tick leave together', async () => {
    const c = client(true);
    c.defineCommand('rsTestEcho', { numberOfKeys: 1, lua: "return redis.call('INCR', KEYS[1]) .. ARGV[1]" });
    const echo = (a: string) =>
      (c as unknown as Record<string, (k: string, a: string) => Promise<string>>).rsTestEcho?.call(c, key('script'), a);
    expect(await echo('x')).toBe('1x'); // the first call on a socket is an EVAL: now the socket has it
    await raw.script('FLUSH');
    const counter = countWrites(c.stream as Socket);
    const out = await Promise.all(Array.from({ length: 20 }, (_, i) => echo(String(i))));
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => `${i + 2}${i}`));
    // 20 EVALSHAs in one write; their NOSCRIPT answers bring 20 retries (an EVAL first), in one more
    expect(counter.writes).toBe(2);
  });

  it('a connection killed (CLIENT KILL) with commands queued behind the kill loses none of them', async () => {
    const c = client(true);
    c.on('error', () => {});
    const id = await c.client('ID');
    const counter = countWrites(c.stream as Socket);
    const before = Array.from({ length: 50 }, (_, i) => c.incr(key(`kill:${i}`)));
    // Redis runs what precedes it, answers, closes the connection and runs nothing after it
    const kill = c.call('CLIENT', 'KILL', 'ID', String(id), 'SKIPME', 'no');
    const after = Array.from({ length: 50 }, (_, i) => c.incr(key(`kill:${50 + i}`)));
    expect(counter.writes).toBe(0); // all still corked: one write at the end of the tick
    // the 50 after the kill were written but never run: ioredis resends them on the new connection
    expect(await Promise.all([...before, ...after])).toEqual(Array(100).fill(1));
    expect(await kill).toBe(1);
    expect(counter.writes).toBe(1);
    expect(await c.client('ID')).not.toBe(id);
    const values = await raw.mget(Array.from({ length: 100 }, (_, i) => key(`kill:${i}`)));
    expect(values).toEqual(Array(100).fill('1'));
  });

  it('a socket that dies mid-tick, before the uncork: the corked commands are sent once, after the reconnect', async () => {
    const c = client(true);
    c.on('error', () => {});
    await c.ping();
    const first = Array.from({ length: 20 }, (_, i) => c.incr(key(`die:${i}`)));
    (c.stream as Socket).destroy(); // what a reset connection does, while the tick's commands are corked
    const second = Array.from({ length: 20 }, (_, i) => c.incr(key(`die:${20 + i}`)));
    // every command runs exactly once: the corked bytes never left, ioredis resent them
    expect(await Promise.all([...first, ...second])).toEqual(Array(40).fill(1));
    const values = await raw.mget(Array.from({ length: 40 }, (_, i) => key(`die:${i}`)));
    expect(values).toEqual(Array(40).fill('1'));
  });

  it('the offline queue (commands issued before the connection is ready) is flushed in one write, in order', async () => {
    const c = client(true, { lazyConnect: true });
    let counter: { texts: string[] } | null = null;
    // 'connect' comes before the handshake and the ready check; the queue is flushed after them
    c.once('connect', () => {
      counter = countWrites(c.stream as Socket);
    });
    expect(c.status).toBe('wait');
    const queued = Array.from({ length: 30 }, () => c.incr(key('offline')));
    await new Promise((resolve) => c.once('ready', resolve));
    expect(await Promise.all(queued)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const texts = (counter as { texts: string[] } | null)?.texts ?? [];
    const carrying = texts.filter((t) => t.includes('incr'));
    expect(carrying).toHaveLength(1);
    expect(carrying[0]?.match(/incr/g)).toHaveLength(30);
  });

  it('applying it twice changes nothing; duplicate() (how BullMQ makes its blocking connections) does not inherit it', async () => {
    const c = client(false);
    expect(writesCoalesced(c)).toBe(false);
    expect(coalesceWrites(c)).toBe(c);
    const hook = c.sendCommand;
    expect(coalesceWrites(c)).toBe(c);
    expect(c.sendCommand).toBe(hook);
    const copy = c.duplicate();
    clients.push(copy);
    expect(writesCoalesced(copy)).toBe(false);
    await c.ping();
    const counter = countWrites(c.stream as Socket);
    await Promise.all([c.ping(), c.ping(), c.ping()]);
    expect(counter.writes).toBe(1);
  });

  it('every client the library and the worker create has it (URL, options, named, store-owned, worker)', async () => {
    const made = [
      createRedisClient(redisUrl()),
      createRedisClient({ host: '127.0.0.1', port: Number(new URL(redisUrl()).port) }),
      sessionClient({ kind: 'url', url: redisUrl() }),
      queueClient({ kind: 'url', url: redisUrl() }),
    ];
    clients.push(...(made as Redis[]));
    for (const m of made) expect(writesCoalesced(m)).toBe(true);
    configureRedis({ coalesceTest: redisUrl() });
    expect(writesCoalesced(getRedis('coalesceTest'))).toBe(true);
    const store = createSessionStore({ redis: redisUrl(), prefix });
    expect(writesCoalesced(store.redis)).toBe(true);
    await store.close();
    // a client passed in is the caller's: left as it is unless they opt in
    const mine = client(false);
    const theirs = createSessionStore({ redis: mine, prefix });
    expect(writesCoalesced(theirs.redis)).toBe(false);
    await theirs.close();
  });
});
