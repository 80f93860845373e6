import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { manifestKey } from '../../src/keys/manifest-key.js';
import { LayoutMismatchError, readManifest } from '../../src/store/manifest.js';
import { manifestSurvivesWalks, movedPrefix } from '../helpers/manifest-walks.js';
import { keysUnder, recordingLogger, redisUrl, storeFixture, testPrefix } from '../helpers/redis.js';

const f = storeFixture();
const sid = () => randomBytes(24).toString('base64url');

describe('the store manifest', () => {
  it('is recorded on the first call, once, with the layout and never the secret', async () => {
    const prefix = testPrefix('manifest');
    f.prefixes.push(prefix);
    const infos: string[] = [];
    const logger = { ...recordingLogger().logger, info: (_o: object, msg?: string) => infos.push(msg ?? '') };
    const secret = `secret-${randomBytes(16).toString('hex')}`;
    const store = f.make({ prefix, buckets: 1024, idSecret: secret, logger });
    expect(await f.raw.exists(manifestKey(Buffer.from(prefix)))).toBe(0);
    await Promise.all([store.get(sid()), store.get(sid()), store.set(sid(), { a: 1 })]);
    const raw = (await f.raw.get(manifestKey(Buffer.from(prefix)))) as string;
    expect(raw).not.toContain(secret);
    const m = await readManifest(f.raw, Buffer.from(prefix));
    expect(m).toMatchObject({
      format: 1,
      mode: 'hash',
      buckets: 1024,
      keyScheme: 'hashed',
      idSecret: expect.stringMatching(/^[0-9a-f]{12}$/),
      bucketOf: 'default',
      codecs: { serializers: ['compact'], compressors: ['snappy'] },
      createdBy: expect.stringMatching(/^redisession .*createSessionStore/),
    });
    expect(infos.filter((m) => /recorded this store's layout/.test(m))).toHaveLength(1);
  });

  it('a store that contradicts it refuses every call, naming both values', async () => {
    const prefix = testPrefix('manifest');
    f.prefixes.push(prefix);
    const id = sid();
    await f.make({ prefix, buckets: 65536 }).set(id, { user: 1 });
    const { lines, logger } = recordingLogger();
    const other = f.make({ prefix, buckets: 4096, logger });
    const err = await other.get(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LayoutMismatchError);
    expect((err as Error).message).toMatch(/buckets 4096 here, 65536 in the manifest/);
    await expect(other.set(id, { user: 2 })).rejects.toThrow(/buckets 4096 here/);
    await expect(other.checkLayout?.()).rejects.toThrow(LayoutMismatchError);
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);
    // the stored session is untouched
    expect(await f.make({ prefix }).get(id)).toEqual({ user: 1 });

    const secret = f.make({ prefix, idSecret: 'x'.repeat(16) });
    await expect(secret.get(id)).rejects.toThrow(/keyScheme hashed here, default in the manifest/);
    const str = f.make({ prefix, mode: 'string' });
    await expect(str.length()).rejects.toThrow(/mode string here, hash in the manifest/);
  });

  it('another idSecret is refused by its fingerprint; codecs may change and are added', async () => {
    const prefix = testPrefix('manifest');
    f.prefixes.push(prefix);
    await f.make({ prefix, idSecret: 'a'.repeat(16) }).set(sid(), { a: 1 });
    await expect(f.make({ prefix, idSecret: 'b'.repeat(16) }).get(sid())).rejects.toThrow(
      /idSecret fingerprint [0-9a-f]{12} here, fingerprint [0-9a-f]{12} in the manifest/,
    );
    const json = f.make({ prefix, idSecret: 'a'.repeat(16), serializer: 'json', compression: 'gzip' });
    await json.set(sid(), { b: 2 });
    expect((await readManifest(f.raw, Buffer.from(prefix)))?.codecs).toEqual({
      serializers: ['compact', 'json'],
      compressors: ['snappy', 'gzip'],
    });
    const { lines, logger } = recordingLogger();
    const custom = { id: 'json5', stringify: JSON.stringify, parse: JSON.parse };
    await f.make({ prefix, idSecret: 'a'.repeat(16), serializer: custom }).get(sid());
    await f.make({ prefix, idSecret: 'a'.repeat(16), logger }).get(sid());
    expect(lines.find((l) => l.level === 'warn')?.msg).toMatch(/custom:json5, which this store cannot read/);
  });
});

describe('writes that wait for the layout check', () => {
  it("keep the caller's ttlMs, also from a getter, and the caller's object untouched", async () => {
    const prefix = testPrefix('manifest-ttl');
    f.prefixes.push(prefix);
    class Options {
      get ttlMs() {
        return 5000;
      }
    }
    const options = Object.freeze(new Options());
    const store = f.make({ prefix, mode: 'string' }); // its first call waits for the check
    const id = sid();
    await store.set(id, { a: 1 }, options);
    const keys = await keysUnder(f.raw, prefix); // (binary keys, the manifest left out)
    expect(keys).toHaveLength(1);
    const pttl = await f.raw.pttl(keys[0] as Buffer);
    expect(pttl).toBeGreaterThan(3000);
    expect(pttl).toBeLessThanOrEqual(5000); // not the default day
    expect(Object.getOwnPropertySymbols(options)).toEqual([]);
  });
});

describe('walks over a store with a manifest (length, clear, sweeps, stats, user indexes, bulk move)', () => {
  it.each([
    ['hash', false],
    ['string', false],
    ['string', true],
  ] as const)(
    '%s mode (custom keyGenerator: %s): none counts, changes or deletes the manifest',
    async (mode, customKeys) => {
      const prefix = testPrefix(`walks-${mode}`);
      f.prefixes.push(prefix, movedPrefix(prefix));
      await manifestSurvivesWalks(redisUrl(), f.raw, prefix, { mode, customKeys });
    },
  );
});
