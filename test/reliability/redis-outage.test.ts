import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSessionStore, type SessionStore } from 'redisession';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingLogger, sleep } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

// A private server, so stopping it does not disturb the other test files.
let server: RedisServer;
let store: SessionStore;
const { lines, logger } = recordingLogger();

beforeAll(async () => {
  server = await startRedisServer();
  store = createSessionStore({ redis: server.url, prefix: 'outage:', logger });
});
afterAll(async () => {
  await store.close();
  await server.destroy();
});

describe('Redis goes away and comes back', () => {
  it('fails calls with an error while Redis is down, then recovers on its own', async () => {
    const id = randomBytes(24).toString('base64url');
    await store.set(id, { user: 1 });

    await server.stop(true); // SIGKILL, no persistence: the data is gone with it
    const started = Date.now();
    await expect(store.get(id)).rejects.toThrow();
    await expect(store.set(id, { user: 2 })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(10_000); // an error, not a hang
    expect(lines.some((l) => l.msg?.includes('connection error'))).toBe(true);

    await server.restart();
    const deadline = Date.now() + 10_000;
    let recovered = false;
    while (!recovered && Date.now() < deadline) {
      try {
        await store.set(id, { user: 3 });
        recovered = true;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(recovered).toBe(true);
    expect(await store.get(id)).toEqual({ user: 3 });
    expect(lines.some((l) => l.msg?.includes('is back'))).toBe(true);
  });
});

describe('Redis accepts connections but does not answer', () => {
  it('fails calls with a timeout instead of hanging, then works again', async () => {
    const frozen = await startRedisServer();
    const { port } = new URL(frozen.url);
    const slow = createSessionStore({
      redis: { host: '127.0.0.1', port: Number(port), commandTimeout: 300 },
      prefix: 'slow:',
    });
    const id = randomBytes(24).toString('base64url');
    try {
      await slow.set(id, { user: 1 });
      frozen.pause(true); // SIGSTOP: the socket stays open, nothing answers
      const started = Date.now();
      await expect(slow.get(id)).rejects.toThrow(/timed out/i);
      expect(Date.now() - started).toBeLessThan(3000);
      frozen.pause(false);
      expect(await slow.get(id)).toEqual({ user: 1 });
    } finally {
      frozen.pause(false);
      await slow.close();
      await frozen.destroy();
    }
  });

  it.each([
    ['DEBUG SLEEP 2 from another client', (admin: Redis) => admin.call('DEBUG', 'SLEEP', '2')],
    [
      'a busy Lua script from another client',
      (admin: Redis) =>
        admin.eval(
          'local function ms() local t = redis.call("TIME") return t[1] * 1000 + t[2] / 1000 end ' +
            'local t = ms() while ms() < t + 2000 do end',
          0,
        ),
    ],
  ])('a Redis blocked by %s: store calls fail with a timeout error, then work again', async (_name, block) => {
    const busy = await startRedisServer(['--enable-debug-command', 'yes', '--busy-reply-threshold', '500']);
    const slow = createSessionStore({
      redis: { host: '127.0.0.1', port: busy.port, commandTimeout: 300 },
      prefix: 'blocked:',
    });
    const admin = new Redis(busy.url);
    const id = randomBytes(24).toString('base64url');
    try {
      await slow.set(id, { user: 1 });
      await admin.ping(); // connected, so the block goes out at once
      const blocking = block(admin).catch((err: Error) => err);
      await sleep(50);
      const started = Date.now();
      for (const call of [() => slow.get(id), () => slow.set(id, { user: 2 }), () => slow.length()]) {
        // Redis answers BUSY to other clients once a script runs past busy-reply-threshold;
        // before that, and throughout a DEBUG SLEEP, it answers nothing: the timeout speaks
        await expect(call()).rejects.toThrow(/timed out|BUSY/i);
      }
      expect(Date.now() - started).toBeLessThan(3000);
      await blocking;
      // A timed-out command was already sent: Redis may still run it when it wakes up (DEBUG
      // SLEEP), as with any network timeout; a BUSY reply means it was not. Either way the session
      // is one of the two whole values, never a mix.
      expect([{ user: 1 }, { user: 2 }]).toContainEqual(await slow.get(id));
    } finally {
      admin.disconnect();
      await slow.close();
      await busy.destroy();
    }
  });

  it('clients the library creates carry a command timeout by default', async () => {
    const { CLIENT_DEFAULTS } = await import('../../src/redis/connections.js');
    expect(CLIENT_DEFAULTS.commandTimeout).toBeGreaterThan(0);
  });
});

describe('Redis out of memory (maxmemory, noeviction)', () => {
  it.each(['hash', 'string'] as const)(
    '%s mode: writes fail with the OOM error, and nothing half-written is readable',
    async (mode) => {
      const small = await startRedisServer(['--maxmemory', '3mb', '--maxmemory-policy', 'noeviction']);
      const store = createSessionStore({ redis: small.url, prefix: 'oom:', mode, compression: 'none' });
      try {
        const written = new Map<string, number>();
        let failure: Error | null = null;
        for (let i = 0; i < 5000 && !failure; i++) {
          const id = randomBytes(24).toString('base64url');
          try {
            await store.set(id, { i, pad: 'x'.repeat(2000) });
            written.set(id, i);
          } catch (err) {
            failure = err as Error;
            // the session that failed must not be readable, not even partly
            expect(await store.get(id)).toBeNull();
          }
        }
        expect(failure?.message).toMatch(/OOM/);
        expect(written.size).toBeGreaterThan(10);
        for (const [id, i] of written) expect(await store.get(id)).toMatchObject({ i }); // lost: none
      } finally {
        await store.close();
        await small.destroy();
      }
    },
  );
});
