import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, readExpiry } from '../../src/codec/envelope.js';
import { bucketKey, defaultBucketOf } from '../../src/keys/buckets.js';
import { defaultKeyGenerator } from '../../src/keys/key-scheme.js';
import { withScripts } from '../../src/redis/scripts.js';
import { V1_EXPIRY, V1_VALUES } from '../fixtures/compact-v1-values.js';
import { storeFixture, testPrefix } from '../helpers/redis.js';
import { plantValue, storedValue } from '../helpers/sessions.js';

/*
 * Both envelope formats in one store, through every Lua script that reads the expiry (the shared
 * prelude, src/lua/prelude.lua): values 0.1 wrote (format 1) and values written now (format 2).
 */

const { raw, prefixes, make, sid } = storeFixture();

/** A format-1 value 0.1 wrote, with its expiry moved to `expiresAt` (bytes 2..7). */
function v1(index: number, expiresAt: number): Buffer {
  const value = Buffer.from((V1_VALUES[index] as { base64: string }).base64, 'base64');
  value.writeUIntBE(expiresAt, 2, 6);
  return value;
}
/** A format-2 value with this expiry. */
const v2 = (expiresAt: number | null) => encodeEnvelope({ serializer: 2, compressor: 0, expiresAt }, Buffer.from([]));

describe('values of both envelope formats', () => {
  it('0.1 values are read, touched and counted like new ones (hash and string mode)', async () => {
    for (const mode of ['hash', 'string'] as const) {
      const prefix = testPrefix(`v1-${mode}`);
      prefixes.push(prefix);
      const store = make({ mode, prefix });
      const ids: string[] = [];
      for (const { base64, expiresAt, session } of V1_VALUES) {
        if ((expiresAt === null) !== (mode === 'string')) continue;
        const id = sid();
        ids.push(id);
        await plantValue(raw, prefix, mode, id, Buffer.from(base64, 'base64'));
        expect(await store.get(id)).toEqual(session);
      }
      expect(await store.length()).toBe(ids.length);
      if (mode === 'hash') {
        // touch rewrites the expiry inside the format-1 value, the payload as it was
        const id = ids[0] as string;
        const later = V1_EXPIRY + 86_400_000;
        await store.touch(id, { cookie: { expires: new Date(later) } });
        const value = (await storedValue(raw, prefix, mode, id)) as Buffer;
        expect(value[0]).toBe(0xa3);
        expect(decodeEnvelope(value).expiresAt).toBe(later);
        expect(await store.get(id)).toMatchObject({ userId: 184467 });
      }
      await store.clear();
      expect(await store.length()).toBe(0);
    }
  });

  it('the sweep, the in-line sweep and touch judge both formats by their expiry', async () => {
    const prefix = testPrefix('formats');
    prefixes.push(prefix);
    const store = make({ prefix, buckets: 1, inlineSweep: 1 });
    const bucket = bucketKey(Buffer.from(prefix), 0, 1);
    const now = Date.now();
    const plant = async (value: Buffer) => {
      const key = defaultKeyGenerator(sid());
      await raw.hset(bucket, key, value);
      return key;
    };
    const dead1 = await plant(v1(0, now - 60_000));
    const dead2 = await plant(v2(now - 60_000));
    const live1 = await plant(v1(0, now + 3_600_000));
    const live2 = await plant(v2(now + 3_600_000));
    const noExpiry = await plant(v2(null));
    expect(await store.sweep({ dryRun: true, graceMs: 0 })).toMatchObject({ scanned: 5, deleted: 2 });
    expect(await store.sweep({ graceMs: 0 })).toMatchObject({ deleted: 2 });
    expect(await raw.hexists(bucket, dead1)).toBe(0);
    expect(await raw.hexists(bucket, dead2)).toBe(0);
    expect(await raw.hlen(bucket)).toBe(3);

    // a touch moves a format-2 expiry (bytes 1..6) and gives one to a value without
    const later = now + 7_200_000;
    for (const key of [live2, noExpiry]) {
      await raw.hset(bucket, key, v2(key === live2 ? now + 3_600_000 : null));
    }
    const touch = withScripts(raw);
    for (const key of [live1, live2, noExpiry]) {
      // session_touch.lua: one key; field, new end, ttl, now, slack, grace
      expect(await touch.rsSessionTouch(1, bucket, key, later, 7_200_000, now, 1000, 60_000)).toBe(1);
      const value = (await raw.hgetBuffer(bucket, key)) as Buffer;
      expect(readExpiry(value)).toBe(later);
      expect(value[0]).toBe(key === live1 ? 0xa3 : 0xb1);
    }

    // the in-line sweep of a write (inlineSweep 1: every write) removes expired values of both formats
    await plant(v1(0, now - 60_000));
    await plant(v2(now - 60_000));
    await store.set(sid(), { user: 1 });
    expect(await raw.hlen(bucket)).toBe(4);
  });

  it('the legacy move counts a format-2 target as absent once expired, and as present while live', async () => {
    const old = testPrefix('cr');
    const prefix = testPrefix('target');
    prefixes.push(old, prefix);
    const scripts = withScripts(raw);
    const now = Date.now();
    for (const [targetExpiry, moved] of [
      [now - 1000, 1],
      [now + 60_000, 0],
    ] as const) {
      const legacyKey = `${old}${sid()}`;
      await raw.set(legacyKey, '{"user":"moved"}', 'EX', 60);
      const bucket = bucketKey(Buffer.from(prefix), 3, 2);
      await raw.hset(bucket, 'f', v2(targetExpiry));
      const args = [bucket, '', '{"user":"moved"}', 'f', v2(now + 60_000), 60_000, now] as const;
      expect(await scripts.rsLegacyMove(legacyKey, ...args)).toBe(moved);
      expect(readExpiry((await raw.hgetBuffer(bucket, 'f')) as Buffer)).toBe(moved ? now + 60_000 : targetExpiry);
    }
  });

  it('lists and clears format-2 buckets and string keys as its own, and nothing else', async () => {
    const prefix = testPrefix('owned');
    prefixes.push(prefix);
    const store = make({ prefix });
    const id = sid();
    await store.set(id, { user: 1 });
    const key = defaultKeyGenerator(id);
    const bucket = bucketKey(Buffer.from(prefix), defaultBucketOf(key, 65536), 2);
    expect((await raw.hgetBuffer(bucket, key))?.[0]).toBe(0xb1);
    const foreign = bucketKey(Buffer.from(prefix), 7, 2);
    await raw.hset(foreign, 'x', Buffer.from([0xb2, 1, 2, 3])); // a reserved format byte: not ours
    expect(await store.length()).toBe(1);
    await store.clear();
    expect(await raw.exists(bucket)).toBe(0);
    expect(await raw.exists(foreign)).toBe(1);
  });
});
