import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSessionStore } from 'redisession';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/redis/connections.js';
import { sleep } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * The command timeout of the clients the library creates, enforced per connection
 * (src/redis/command-deadline.ts) instead of by ioredis's timer per command.
 */

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer(['--enable-debug-command', 'local']);
});
afterAll(async () => {
  server.pause(false);
  await server.destroy();
});

const TIMEOUT = 300;

describe('command timeout without a timer per command', () => {
  it('every command waiting on a frozen Redis fails, none before its timeout, then the client works again', async () => {
    const client = createRedisClient({ host: '127.0.0.1', port: server.port, commandTimeout: TIMEOUT });
    expect((client.options as { commandTimeout?: number }).commandTimeout).toBeUndefined(); // no ioredis timers
    await client.set('deadline:k', 'v');
    server.pause(true); // SIGSTOP: the socket stays open, nothing answers
    const outcomes: Array<Promise<{ waited: number; error: string }>> = [];
    // issued at different moments: each has its own deadline
    for (let burst = 0; burst < 4; burst++) {
      for (let i = 0; i < 25; i++) {
        const issued = Date.now();
        outcomes.push(
          client.get('deadline:k').then(
            () => ({ waited: Date.now() - issued, error: 'answered' }),
            (err: Error) => ({ waited: Date.now() - issued, error: err.message }),
          ),
        );
      }
      await sleep(60);
    }
    const results = await Promise.all(outcomes);
    server.pause(false);
    expect(new Set(results.map((r) => r.error))).toEqual(new Set(['Command timed out']));
    // never early (a timer tick may fire a few ms before the wall clock says so: allow 5 ms)
    expect(Math.min(...results.map((r) => r.waited))).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(await client.get('deadline:k')).toBe('v');
    client.disconnect();
  });

  it('commands answered in time never fail, under a steady load', async () => {
    const client = createRedisClient({ host: '127.0.0.1', port: server.port, commandTimeout: TIMEOUT });
    const key = `deadline:${randomBytes(4).toString('hex')}`;
    const started = Date.now();
    let done = 0;
    // longer than several timeouts, so the watchdog ticks many times with commands in flight
    while (Date.now() - started < 4 * TIMEOUT) {
      await Promise.all(Array.from({ length: 64 }, () => client.incr(key)));
      done += 64;
    }
    expect(Number(await client.get(key))).toBe(done);
    await client.del(key);
    client.disconnect();
  });

  it('commands queued while Redis is down fail with the timeout too, and the client recovers', async () => {
    const client = createRedisClient({
      host: '127.0.0.1',
      port: server.port,
      commandTimeout: TIMEOUT,
      maxRetriesPerRequest: null, // only the timeout can end their wait
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    await client.set('deadline:down', 'v');
    await server.stop(true);
    const started = Date.now();
    await expect(client.get('deadline:down')).rejects.toThrow('Command timed out');
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT - 5);
    await server.restart();
    for (let i = 0; i < 100 && client.status !== 'ready'; i++) await sleep(50);
    expect(await client.set('deadline:down', 'w')).toBe('OK');
    client.disconnect();
  });

  it('a read that meets a tombstone (answered another way) never makes later commands fail early', async () => {
    // A string-mode tombstone is a hash: the GET gets WRONGTYPE and the store reads the tombstone
    // with an HGET instead. That GET is answered (off ioredis's queue) but settles only with the
    // HGET: the deadline watch once took it for still waiting, and failed every command then
    // waiting on the connection, however recently sent.
    const prefix = `dl:${Math.random().toString(16).slice(2)}:`;
    const store = createSessionStore({
      redis: { host: '127.0.0.1', port: server.port, commandTimeout: 1000 },
      mode: 'string',
      prefix,
    });
    const busy = new Redis(server.port, '127.0.0.1');
    const cookie = () => ({ cookie: { expires: new Date(Date.now() + 3_600_000), originalMaxAge: 3_600_000 } });
    const dead = 'd'.repeat(32);
    const live = 'l'.repeat(32);
    try {
      await store.set(dead, { a: 1, ...cookie() });
      await store.destroy(dead);
      await store.set(live, { b: 2, ...cookie() });
      const client = store.redis as unknown as { sendCommand: (cmd: { name: string }, ...rest: unknown[]) => unknown };
      const send = client.sendCommand.bind(client);
      client.sendCommand = (cmd, ...rest) => {
        // Redis busy again just as the tombstone's HGET goes out
        if (cmd.name === 'hget') {
          busy.call('DEBUG', 'SLEEP', '1.0');
          return new Promise((r) => setTimeout(r, 30)).then(() => send(cmd, ...rest));
        }
        return send(cmd, ...rest);
      };
      busy.call('DEBUG', 'SLEEP', '0.6'); // the GET waits long enough to be noted by the watch
      await sleep(10);
      const first = store.get(dead).catch((e: Error) => e);
      await sleep(700);
      const issued = Date.now();
      const second = await store.get(live).then(
        (v) => ({ v, ms: Date.now() - issued }),
        (e: Error) => ({ e: e.message, ms: Date.now() - issued }),
      );
      // answered, or failed no sooner than its own timeout
      if ('e' in second) expect(second.ms).toBeGreaterThanOrEqual(1000);
      else expect(second.v).toMatchObject({ b: 2 });
      const read = await first;
      if (read instanceof Error) expect(read.message).toBe('Command timed out');
      else expect(read).toBeNull();
    } finally {
      busy.disconnect();
      await store.close();
    }
  }, 20_000);
});
