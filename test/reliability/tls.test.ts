import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionStore } from 'redisession';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writesCoalesced } from '../../src/redis/coalesce.js';
import { assertBuilt, killWorker, runCli, startWorker } from '../helpers/cli.js';
import { recordingLogger } from '../helpers/redis.js';
import { freePort, type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * TLS (rediss://) against a redis-server built with TLS (Debian's is), with a throwaway
 * self-signed certificate for 127.0.0.1 made by the selfsigned package.
 */

let dir: string;
let redis: RedisServer;
let tlsPort: number;
let ca: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redisession-tls-'));
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  // a throwaway certificate for 127.0.0.1 that is its own CA
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  });
  writeFileSync(cert, pems.cert);
  writeFileSync(key, pems.private, { mode: 0o600 });
  ca = Buffer.from(pems.cert);
  tlsPort = await freePort();
  // biome-ignore format: flag pairs
  redis = await startRedisServer([
    '--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key,
    '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no',
  ]);
});
afterAll(async () => {
  await redis?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS (rediss://)', () => {
  it.each(['hash', 'string'] as const)(
    '%s mode: the store works over TLS with the CA given in ioredis tls options',
    async (mode) => {
      const store = createSessionStore({
        redis: { host: '127.0.0.1', port: tlsPort, tls: { ca } },
        mode,
        prefix: `tls:${mode}:`, // a store's layout is recorded under its prefix: one per mode
      });
      expect(writesCoalesced(store.redis)).toBe(true);
      const id = randomBytes(24).toString('base64url');
      await store.set(id, { user: 'tls' });
      // one tick's commands in one TLS write: replies unchanged
      const many = Array.from({ length: 20 }, (_, i) => randomBytes(24).toString('base64url') + i);
      await Promise.all(many.map((m, i) => store.set(m, { i })));
      expect(await Promise.all(many.map((m) => store.get(m)))).toEqual(many.map((_, i) => ({ i })));
      expect(await store.get(id)).toEqual({ user: 'tls' });
      expect(await store.length()).toBe(21);
      await store.clear();
      await store.close();
    },
  );

  it('refuses a server whose certificate it cannot verify, and logs why (no silent plaintext)', async () => {
    const { lines, logger } = recordingLogger();
    const store = createSessionStore({
      redis: { host: '127.0.0.1', port: tlsPort, tls: {}, maxRetriesPerRequest: 0 },
      prefix: 'tls:',
      logger,
    });
    await expect(store.get(randomBytes(24).toString('base64url'))).rejects.toThrow();
    expect(JSON.stringify(lines)).toMatch(/self[- ]signed certificate/);
    await store.close();
  });

  it('the worker and the CLI take a rediss:// URL (the CA from NODE_EXTRA_CA_CERTS)', async () => {
    assertBuilt();
    const env = {
      REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
      NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem'),
      QUEUE_NAME: `tls-${randomBytes(3).toString('hex')}`,
      SESSION_PREFIX: 'tls-worker:',
      SESSION_BUCKETS: '64',
      CLEANUP_SCHEDULE: 'off',
    };
    const w = startWorker(env);
    try {
      await w.ready;
      const out = await runCli(['cleanup', '--wait', '--json'], env);
      expect(out.code, out.stderr).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ buckets: 64, deleted: 0 });
      const stats = await runCli(['stats', '--json'], env);
      expect(stats.code, stats.stderr).toBe(0);
    } finally {
      await killWorker(w);
    }
  }, 30_000);
});
