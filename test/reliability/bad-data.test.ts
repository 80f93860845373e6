import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { createSessionStore, SessionEncodeError } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { dropPrefix, rawClient, recordingLogger, redisUrl, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/redis-server.js';
import { plantValue, storedValue } from '../helpers/sessions.js';

const raw = rawClient();
const sid = () => randomBytes(24).toString('base64url');
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await dropPrefix(raw, p);
});

const plant = (prefix: string, mode: 'hash' | 'string', id: string, value: Buffer) =>
  plantValue(raw, prefix, mode, id, value);
const stored = (prefix: string, mode: 'hash' | 'string', id: string) => storedValue(raw, prefix, mode, id);

const future = Buffer.alloc(6);
future.writeUIntBE(Date.now() + 3_600_000, 0, 6);

const corrupt: Array<[string, Buffer]> = [
  ['random bytes', randomBytes(64)],
  ['an empty value', Buffer.alloc(0)],
  ['a truncated envelope', Buffer.from([0xa3, 0x00, 0x01])],
  ['an unknown format version', Buffer.concat([Buffer.from([0xa5, 0x00]), future, Buffer.from('{}')])],
  ['a valid header with broken snappy data', Buffer.concat([Buffer.from([0xa3, 0x01]), future, randomBytes(40)])],
  [
    'a valid header with broken gzip data',
    Buffer.concat([Buffer.from([0xa3, 0x02]), future, Buffer.from([0x1f, 0x8b, 0, 0])]),
  ],
  [
    'valid snappy of broken JSON',
    Buffer.concat([Buffer.from([0xa3, 0x01]), future, Buffer.from([5, 0x10, 0x7b, 0x22, 0x61, 0x22, 0x3a])]),
  ],
  ['broken JSON', Buffer.concat([Buffer.from([0xa3, 0x00]), future, Buffer.from('{"user":')])],
  ['JSON that is not an object', Buffer.concat([Buffer.from([0xa3, 0x00]), future, Buffer.from('"just a string"')])],
  ['an unknown serializer id', Buffer.concat([Buffer.from([0xa3, 0x70]), future, Buffer.from('{}')])],
  ['a connect-redis JSON value', Buffer.from('{"cookie":{"path":"/"},"user":1}')],
  // huge declared lengths: refused from the header, never allocated
  [
    'a snappy block declaring 4 GiB',
    Buffer.concat([Buffer.from([0xa3, 0x01]), future, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x61])]),
  ],
  ['a codec name longer than the value', Buffer.concat([Buffer.from([0xa3, 0xf0]), future, Buffer.from([32, 0x61])])],
  [
    "'compact' (msgpack) declaring a 4 GiB string",
    Buffer.concat([Buffer.from([0xa3, 0x10]), future, Buffer.from([0x00, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])]),
  ],
  // valid compression of a broken payload
  [
    "broken 'compact' (msgpack) data",
    Buffer.concat([Buffer.from([0xa3, 0x10]), future, Buffer.from([0x00, 0xde, 0xff])]),
  ],
  [
    "snappy of broken 'compact' data",
    Buffer.concat([Buffer.from([0xa3, 0x11]), future, Buffer.from([3, 0x08, 0x00, 0xde, 0xff])]),
  ],
];

describe.each(['hash', 'string'] as const)('corrupted values in %s mode', (mode) => {
  const prefix = testPrefix(`corrupt-${mode}`);
  prefixes.push(prefix);
  const { lines, logger } = recordingLogger();
  const store = createSessionStore({ redis: redisUrl(), mode, prefix, logger });
  afterAll(() => store.close());

  it.each(corrupt)('get returns null and warns for %s', async (_name, value) => {
    const id = sid();
    await plant(prefix, mode, id, value);
    const warnings = lines.length;
    expect(await store.get(id)).toBeNull();
    expect(lines.length).toBe(warnings + 1);
    const last = lines.at(-1);
    expect(last?.level).toBe('warn');
    expect(JSON.stringify(last)).not.toContain(id); // only a short prefix of the id
    // the next set replaces the broken value with a good one
    await store.set(id, { user: 1 });
    expect(await store.get(id)).toEqual({ user: 1 });
  });
});

describe.each(['hash', 'string'] as const)('onCorrupt in %s mode', (mode) => {
  const prefix = testPrefix(`oncorrupt-${mode}`);
  prefixes.push(prefix);

  it("'ignore' (the default) answers null and leaves every kind of broken value as it was", async () => {
    const { lines, logger } = recordingLogger();
    const store = createSessionStore({ redis: redisUrl(), mode, prefix, logger });
    for (const [name, value] of corrupt) {
      const id = sid();
      await plant(prefix, mode, id, value);
      expect(await store.get(id), name).toBeNull();
      expect(await stored(prefix, mode, id), name).toEqual(value);
    }
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(corrupt.length);
    expect(lines[0]?.obj).toMatchObject({ onCorrupt: 'ignore', deleted: false });
    await store.close();
  });

  it("'delete' answers null and removes every kind of broken value, and nothing else", async () => {
    const { lines, logger } = recordingLogger();
    const store = createSessionStore({ redis: redisUrl(), mode, prefix, logger, onCorrupt: 'delete' });
    const good = sid();
    await store.set(good, { user: 'kept' });
    for (const [name, value] of corrupt) {
      const id = sid();
      await plant(prefix, mode, id, value);
      expect(await store.get(id), name).toBeNull();
      expect(await stored(prefix, mode, id), name).toBeNull();
    }
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(corrupt.length);
    expect(lines.every((l) => (l.obj as { deleted?: boolean }).deleted === true)).toBe(true);
    expect(await store.get(good)).toEqual({ user: 'kept' });
    await store.close();
  });

  it("'delete' never removes a good session written after the bad value was read", async () => {
    const id = sid();
    // A codec that fails to read, but only after another request has stored a good session in
    // the same place: the deterministic version of the race between a read and its delete.
    const writer = createSessionStore({ redis: redisUrl(), mode, prefix });
    const racing = {
      id: 'racing',
      stringify: JSON.stringify,
      parse: async () => {
        await writer.set(id, { user: 'written meanwhile' });
        throw new Error('cannot parse');
      },
    };
    const { lines, logger } = recordingLogger();
    const store = createSessionStore({
      redis: redisUrl(),
      mode,
      prefix,
      logger,
      onCorrupt: 'delete',
      legacyCodecs: [racing],
    });
    const planter = createSessionStore({ redis: redisUrl(), mode, prefix, serializer: racing });
    await planter.set(id, { user: 'unreadable' });
    expect(await store.get(id)).toBeNull(); // this read saw the bad value
    expect(lines[0]?.obj).toMatchObject({ deleted: false });
    expect(await store.get(id)).toEqual({ user: 'written meanwhile' }); // the good session survived
    await Promise.all([writer.close(), store.close(), planter.close()]);
  });

  it('refuses an unknown onCorrupt choice, naming the accepted ones', () => {
    expect(() => createSessionStore({ redis: redisUrl(), mode, prefix, onCorrupt: 'drop' as 'delete' })).toThrow(
      /option "onCorrupt": got "drop"; expected one of 'ignore', 'delete'/,
    );
  });
});

describe.each(['hash', 'string'] as const)('sessions that cannot be stored, in %s mode', (mode) => {
  const prefix = testPrefix(`unstorable-${mode}`);
  prefixes.push(prefix);
  const cyclic: Record<string, unknown> = { user: 'eve' };
  cyclic.self = cyclic;

  it.each([
    ['a BigInt', { user: 'eve', n: 10n }, /cannot be serialised: Do not know how to serialize a BigInt/],
    ['a cycle', cyclic, /cannot be serialised: Converting circular structure/],
    [
      'a session over maxSize',
      { user: 'eve', pad: randomBytes(6000).toString('base64') },
      /over maxSize \(4096\); not stored/,
    ],
    ['not an object', 'just a string', /session must be an object/],
  ])('%s: set fails with SessionEncodeError and the stored session stays intact', async (_name, bad, message) => {
    for (const serializer of ['json', 'compact'] as const) {
      const store = createSessionStore({ redis: redisUrl(), mode, prefix, serializer, maxSize: 4096 });
      const id = sid();
      await store.set(id, { user: 'alice', cart: [1, 2] });
      const err = await store.set(id, bad as object).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SessionEncodeError);
      expect((err as Error).message).toMatch(message);
      expect(await store.get(id)).toEqual({ user: 'alice', cart: [1, 2] });
      await store.close();
    }
  });
});

describe('values written under another configuration stay readable', () => {
  const prefix = testPrefix('codec-change');
  prefixes.push(prefix);
  const big = { cart: Array.from({ length: 50 }, (_, i) => ({ sku: `SKU-${i}`, title: 'Same title' })) };

  it('reads snappy values after switching to gzip, brotli or no compression, and back', async () => {
    const ids = { snappy: sid(), gzip: sid(), brotli: sid(), none: sid() };
    const stores = (['snappy', 'gzip', 'brotli', 'none'] as const).map((compression) =>
      createSessionStore({ redis: redisUrl(), prefix, compression }),
    );
    for (const [i, store] of stores.entries()) await store.set(Object.values(ids)[i] as string, { ...big, i });
    for (const reader of stores) {
      for (const [i, id] of Object.values(ids).entries()) expect(await reader.get(id)).toEqual({ ...big, i });
    }
    await Promise.all(stores.map((s) => s.close()));
  });

  it("reads JSON values after switching to 'compact', and compact ones after switching back", async () => {
    const json = createSessionStore({ redis: redisUrl(), prefix });
    const compact = createSessionStore({ redis: redisUrl(), prefix, serializer: 'compact' });
    const [a, b] = [sid(), sid()];
    const session = {
      cookie: { originalMaxAge: 1000, expires: new Date(Date.now() + 60_000), httpOnly: true, path: '/' },
      u: 1,
    };
    await json.set(a, session);
    await compact.set(b, session);
    const expected = JSON.parse(JSON.stringify(session));
    for (const reader of [json, compact]) {
      expect(await reader.get(a)).toEqual(expected);
      expect(await reader.get(b)).toEqual(expected);
    }
    await Promise.all([json.close(), compact.close()]);
  });

  it('reads values of a custom serializer after switching back to JSON, when it is kept as legacy', async () => {
    const reversed = {
      id: 'rev',
      stringify: (s: unknown) => [...JSON.stringify(s)].reverse().join(''),
      parse: (t: string) => JSON.parse([...t].reverse().join('')),
    };
    const customCompressor = {
      id: 9,
      compress: (b: Buffer) => deflateRawSync(b),
      decompress: (b: Buffer) => inflateRawSync(b),
    };
    const writer = createSessionStore({
      redis: redisUrl(),
      prefix,
      serializer: reversed,
      compression: customCompressor,
      compressMinLength: 0,
    });
    const id = sid();
    const session = { user: 'custom', note: 'repeat '.repeat(20) };
    await writer.set(id, session);
    const { lines, logger } = recordingLogger();
    const forgetful = createSessionStore({ redis: redisUrl(), prefix, logger });
    expect(await forgetful.get(id)).toBeNull(); // unreadable without the codec: a logged miss
    // said at its first call (the manifest lists the codecs writers used), then on the read itself
    expect(lines[0]?.msg).toMatch(/written with custom:rev, custom:9, which this store cannot read/);
    expect(lines[1]?.obj).toMatchObject({ reason: expect.stringMatching(/unknown compressor 9/) });
    const keeping = createSessionStore({ redis: redisUrl(), prefix, legacyCodecs: [reversed, customCompressor] });
    expect(await keeping.get(id)).toEqual(session);
    await Promise.all([writer.close(), forgetful.close(), keeping.close()]);
  });
});

describe('refused ids never reach Redis', () => {
  it('answers get/destroy for bad ids without a connection, and logs only an id prefix', async () => {
    const port = await freePort(); // nothing listens here
    const offline = new Redis({ port, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    offline.on('error', () => {});
    const { lines, logger } = recordingLogger();
    const store = createSessionStore({ redis: offline, logger, logKeyErrors: true });
    const secretish = `bad\nid-with-a-long-tail-${'z'.repeat(40)}`;
    expect(await store.get(secretish)).toBeNull();
    await store.destroy('');
    await expect(store.get(sid())).rejects.toThrow(); // a good id does try Redis
    expect(lines.filter((l) => l.msg?.includes('refused'))).toHaveLength(2);
    expect(JSON.stringify(lines)).not.toContain('long-tail');
    offline.disconnect();
  });
});
