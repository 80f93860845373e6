import { randomBytes } from 'node:crypto';
import { pack } from 'msgpackr';
import { createSessionStore } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../src/codec/envelope.js';
import { dropPrefix, rawClient, recordingLogger, redisUrl, testPrefix } from '../helpers/redis.js';
import { plantValue } from '../helpers/sessions.js';

/*
 * Nothing secret reaches a log line or an error message: neither a Redis password (in a URL, or
 * an ACL user's) nor anything from inside a session. The worker's and the CLI's output are
 * checked in acl.test.ts (an ACL user) and e2e/worker.test.ts (requirepass).
 */

const raw = rawClient();
const prefix = testPrefix('secrets');
const user = `rs-secrets-${randomBytes(3).toString('hex')}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
// upper case, so no message of ours can contain it by chance; parsers quote ~10 bytes of input
const payload = `TOKEN${randomBytes(6).toString('hex')}`;
const { port } = new URL(redisUrl());
const sid = () => randomBytes(24).toString('base64url');

afterAll(async () => {
  await raw.call('ACL', 'DELUSER', user);
  await dropPrefix(raw, prefix);
});

/** Everything an error carries that a logger might print: message, stack, cause, own fields. */
function everything(err: unknown): string {
  const e = err as Error & Record<string, unknown>;
  return [e.message, e.stack, JSON.stringify(e, Object.getOwnPropertyNames(e)), String(e.cause)].join('\n');
}

describe('no secret in log lines or error messages', () => {
  it.each(['hash', 'string'] as const)('%s mode: passwords and session payloads stay out', async (mode) => {
    await raw.call('ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, `~${prefix}*`, '+@all');
    const { lines, logger } = recordingLogger();
    const storePrefix = `${prefix}${mode}:`; // a store's layout is recorded under its prefix: one per mode
    const store = createSessionStore({
      redis: `redis://${user}:${password}@127.0.0.1:${port}`,
      mode,
      prefix: storePrefix,
      logger,
      logKeyErrors: true,
      onCorrupt: 'delete',
    });
    const id = sid();
    await store.set(id, { token: payload });
    expect(await store.get(id)).toEqual({ token: payload });

    // undecodable values that contain the payload: their parse errors quote their input
    const future = Date.now() + 60_000;
    const broken = [
      encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: future }, Buffer.from(`x${payload}`)),
      encodeEnvelope({ serializer: 0, compressor: 0, expiresAt: future }, Buffer.from(`{"token":"${payload}" }x`)),
      encodeEnvelope(
        { serializer: 1, compressor: 0, expiresAt: future },
        Buffer.concat([Buffer.of(0), pack({ token: payload }), Buffer.from([1, 2])]), // 'compact', trailing junk,
      ),
    ];
    for (const value of broken) {
      const other = sid();
      await plantValue(raw, storePrefix, mode, other, value);
      expect(await store.get(other)).toBeNull();
    }
    // refused ids are logged by their first 6 characters only
    const refusedId = `abcdef-${password}\n`;
    expect(await store.get(refusedId)).toBeNull();
    // a session that cannot be stored: the error names the problem, not the data
    const cyclic: Record<string, unknown> = { token: payload };
    cyclic.self = cyclic;
    const refusals = await Promise.all([
      store.set(id, cyclic).catch((e: unknown) => e),
      store.set(id, { token: payload, n: 10n }).catch((e: unknown) => e),
    ]);
    await store.close();

    // a wrong password: the errors thrown and logged name the failure, not the password tried
    const wrong = `${password}-wrong`;
    const bad = createSessionStore({
      redis: { host: '127.0.0.1', port: Number(port), username: user, password: wrong, maxRetriesPerRequest: 0 },
      mode,
      prefix: storePrefix,
      logger,
    });
    const denied = await bad.get(sid()).catch((e: unknown) => e);
    await bad.close();

    expect(lines.filter((l) => l.level === 'warn').length).toBeGreaterThanOrEqual(broken.length + 1);
    expect(refusals.every((e) => e instanceof Error)).toBe(true);
    expect(denied).toBeInstanceOf(Error);
    const text = JSON.stringify(lines) + [...refusals, denied].map(everything).join('\n');
    expect(text).not.toContain(password);
    expect(text).not.toContain(payload);
    expect(text).not.toContain('TOKEN'); // not even a part of it
  });
});
