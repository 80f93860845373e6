import { randomBytes } from 'node:crypto';
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
  server = await startRedisServer();
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
});
