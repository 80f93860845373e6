import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSessionStore, type SessionStore, type SessionStoreOptions } from 'redisession';
import { afterAll, inject } from 'vitest';
import { isManifestKey } from '../../src/keys/manifest-key.js';
import { prefixPattern } from '../../src/redis/scan.js';

export const redisUrl = (): string => inject('redisUrl');

/** A fresh prefix per test so tests never see each other's keys. */
export function testPrefix(label = 't'): string {
  return `test:${label}:${randomBytes(4).toString('hex')}:`;
}

const opened: Redis[] = [];

/** A plain ioredis client for inspecting Redis directly; closed after the file's tests. */
export function rawClient(): Redis {
  const client = new Redis(redisUrl());
  opened.push(client);
  return client;
}

afterAll(async () => {
  await Promise.all(opened.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
});

/**
 * Deletes the keys under a prefix (never FLUSHALL: other files share the server). One key per
 * UNLINK, so it also works on a cluster node, where keys of different slots cannot share a command.
 */
export async function dropPrefix(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix, true);
  for (let i = 0; i < keys.length; i += 1000) {
    await client.pipeline(keys.slice(i, i + 1000).map((k) => ['unlink', k])).exec();
  }
}

/**
 * Every key under a prefix, as Buffers: the store's data, without its manifest (a string the store
 * records on its first call, src/keys/manifest-key.ts) unless `withManifest`.
 */
export async function keysUnder(client: Redis, prefix: string, withManifest = false): Promise<Buffer[]> {
  const found: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scanBuffer(
      cursor,
      'MATCH',
      prefixPattern(Buffer.from(prefix)) as unknown as string,
      'COUNT',
      1000,
    );
    cursor = next.toString();
    found.push(...keys);
  } while (cursor !== '0');
  return withManifest ? found : found.filter((k) => !isManifestKey(k, Buffer.from(prefix)));
}

/** A logger that records what it is told, for asserting on warnings. */
export function recordingLogger() {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, obj, msg });
  };
  return { lines, logger: { debug: at('debug'), warn: at('warn'), error: at('error') } };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stores a test file makes on the shared Redis, and the prefixes it writes under: all closed and
 * dropped after the file (call inside a test file, at top level).
 */
export function storeFixture() {
  const prefixes: string[] = [];
  const stores: SessionStore[] = [];
  const raw = rawClient();
  afterAll(async () => {
    for (const p of prefixes) await dropPrefix(raw, p);
    await Promise.all(stores.map((s) => s.close()));
  });
  return {
    raw,
    prefixes,
    /** A store on the shared Redis, closed after the file. */
    make(options: SessionStoreOptions): SessionStore {
      const store = createSessionStore({ redis: redisUrl(), ...options });
      stores.push(store);
      return store;
    },
    /** An express-session-id-like random id. */
    sid: () => randomBytes(24).toString('base64url'),
  };
}
