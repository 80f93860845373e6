import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/inspect/doctor.js';
import { createSessionStore } from '../../src/store/session-store.js';
import { cryptoRandom, SESSION_SHAPES } from '../fixtures/session-shapes.mjs';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/*
 * stats and doctor on a Redis with its default listpack limits, when buckets are hashtables: the
 * share, the cause (a value, a field, or an entry since gone) with its measured size, and the
 * setting or option that fixes each cause.
 */

const servers: RedisServer[] = [];
beforeAll(assertBuilt);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.destroy()));
});

interface Report {
  findings: Finding[];
}
const byCheck = (r: Report, check: string) => r.findings.find((f) => f.check === check);

/** A private Redis (defaults) with a hash-mode store of 16 buckets under prefix "lp:", and the CLI's env. */
async function setup() {
  const server = await startRedisServer();
  servers.push(server);
  const client = new Redis(server.url);
  const store = createSessionStore({ redis: client, prefix: 'lp:', buckets: 16 });
  const env = {
    REDIS_URL: server.url,
    SESSION_PREFIX: 'lp:',
    SESSION_BUCKETS: '16',
    QUEUE_NAME: `q-${randomBytes(4).toString('hex')}`,
  };
  const cookie = () => ({
    originalMaxAge: 3_600_000,
    expires: new Date(Date.now() + 3_600_000),
    httpOnly: true,
    path: '/',
  });
  return { client, store, env, cookie };
}

async function doctor(env: Record<string, string>): Promise<Report> {
  const out = await runCli(['doctor', '--json'], env);
  return JSON.parse(out.stdout) as Report;
}

describe('doctor and stats on hashtable buckets', () => {
  it('blames 65-byte session keys (64-character ids) on the fields, not the values, and names idSecret', async () => {
    const { client, store, env, cookie } = await setup();
    // ids the default key scheme stores as they are (64 characters of standard base64, not base64url):
    // 65-byte fields
    const id = () => `+${randomBytes(48).toString('base64').slice(1)}`;
    for (let i = 0; i < 40; i++) await store.set(id(), { cookie: cookie(), userId: i });
    const report = await doctor(env);
    expect(byCheck(report, 'store.listpack-value')?.severity).toBe('ok'); // the values are small
    expect(byCheck(report, 'store.listpack-field')).toMatchObject({
      severity: 'warn',
      message: expect.stringMatching(
        /session keys \(the hash fields\) reach 65 bytes, over hash-max-listpack-value 64/,
      ),
      fix: expect.stringMatching(/hash-max-listpack-value 128.*idSecret/),
    });
    const encoding = byCheck(report, 'store.encoding');
    expect(encoding?.message).toMatch(/^\d+ of the \d+ buckets seen \(100%\) are hashtables/);
    expect(encoding?.message).toMatch(/\d+ a field \(session key\) over 64 bytes \(the largest 65\)/);
    expect(encoding?.message).not.toMatch(/hold a value/);
    expect(encoding?.fix).toMatch(/^fields: /);

    // with idSecret the same ids are 25-byte fields and the buckets of a new prefix stay listpacks
    const hashed = createSessionStore({
      redis: client,
      prefix: 'lp2:',
      buckets: 16,
      idSecret: 'a secret of 16+ bytes',
    });
    for (let i = 0; i < 40; i++) await hashed.set(id(), { cookie: cookie() });
    const fixed = await doctor({ ...env, SESSION_PREFIX: 'lp2:' });
    expect(byCheck(fixed, 'store.listpack-field')?.message).toMatch(/longest session key seen 25 bytes/);
    expect(byCheck(fixed, 'store.encoding')).toMatchObject({
      severity: 'ok',
      message: expect.stringMatching(/listpack/),
    });
    client.disconnect();
  });

  it('names the members of the largest value, and tells buckets converted by an entry since gone', async () => {
    const { client, store, env, cookie } = await setup();
    const pkce = SESSION_SHAPES.find((s) => s.name === 'oauth2-pkce');
    // logins in progress: the OAuth PKCE state makes these values 72 bytes
    const ids = Array.from({ length: 40 }, () => randomBytes(24).toString('base64url'));
    for (const id of ids) await store.set(id, pkce?.make(cryptoRandom(randomBytes)) as object);
    const during = await doctor(env);
    expect(byCheck(during, 'store.listpack-value')).toMatchObject({
      severity: 'warn',
      message: expect.stringMatching(
        /^40 of \d+ sampled sessions \(100%\) are over hash-max-listpack-value 64 as stored: up to 72 bytes/,
      ),
      fix: expect.stringMatching(/already 'compact'.*CONFIG SET hash-max-listpack-value 128/),
    });
    expect(byCheck(during, 'store.listpack-value')?.message).toMatch(/mostly "oauth2:github\.com" \d+ B/);
    // the logins complete: the state goes, the sessions are small again, the buckets stay hashtables
    for (const id of ids) await store.set(id, { cookie: cookie(), passport: { user: 42 } });
    const after = await doctor(env);
    expect(byCheck(after, 'store.listpack-value')?.severity).toBe('ok');
    const encoding = byCheck(after, 'store.encoding');
    expect(encoding?.message).toMatch(/\(100%\) are hashtables/);
    expect(encoding?.message).toMatch(/\d+ none of these any more \(converted by an entry since removed/);
    expect(encoding?.fix).toMatch(/only when Redis rewrites them/);

    const stats = JSON.parse((await runCli(['stats', '--json'], env)).stdout);
    expect(stats.hashtables).toMatchObject({ field: 0, value: 0, earlier: stats.hashtables.examined });
    expect(Object.keys(stats.encodings)).toEqual(['hashtable']);
    client.disconnect();
  });
});
