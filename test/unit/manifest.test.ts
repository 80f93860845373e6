import { describe, expect, it } from 'vitest';
import { isManifestKey, manifestKey, shownKey } from '../../src/keys/manifest-key.js';
import {
  describeConflicts,
  idSecretFingerprint,
  LayoutMismatchError,
  layoutConflicts,
  newManifest,
  parseManifest,
  type StoreLayout,
} from '../../src/store/manifest.js';
import { defaultQueueName, loadConfig, withPrefix } from '../../worker/src/worker/config.js';
import { foreignRequest, servedStore, storeOfWorker, workerName } from '../../worker/src/worker/served-store.js';

const layout: StoreLayout = { mode: 'hash', buckets: 65536, keyScheme: 'default', idSecret: null, bucketOf: 'default' };
const key = manifestKey(Buffer.from('rs:'));

describe('the manifest key', () => {
  it('sits behind its own marker byte and is told apart from every other key', () => {
    expect(key).toEqual(Buffer.from('rs:\x07manifest', 'latin1'));
    expect(isManifestKey(key, Buffer.from('rs:'))).toBe(true);
    expect(isManifestKey(Buffer.from('rs:\x07manifesto', 'latin1'), Buffer.from('rs:'))).toBe(false);
    expect(isManifestKey(key, Buffer.from('rs'))).toBe(false);
    expect(shownKey(key)).toBe('"rs:\\x07manifest"');
  });
});

describe('the layout recorded and compared', () => {
  it('fingerprints a secret without showing it, the same for a string and its bytes', () => {
    const fp = idSecretFingerprint('a-secret-of-16-bytes+');
    expect(fp).toMatch(/^[0-9a-f]{12}$/);
    expect(idSecretFingerprint(Buffer.from('a-secret-of-16-bytes+'))).toBe(fp);
    expect(idSecretFingerprint('another-secret-of-16')).not.toBe(fp);
  });

  it('names every field that differs, with both values; fields of another mode are not compared', () => {
    expect(layoutConflicts(layout, layout)).toEqual([]);
    const other: StoreLayout = { ...layout, buckets: 4096, keyScheme: 'hashed', idSecret: 'abc' };
    expect(describeConflicts(layoutConflicts(layout, other))).toBe(
      'buckets 4096 here, 65536 in the manifest; keyScheme hashed here, default in the manifest',
    );
    const hashed = { ...layout, keyScheme: 'hashed' as const, idSecret: 'aaa' };
    expect(layoutConflicts(hashed, { ...hashed, idSecret: 'bbb' })).toEqual([
      { field: 'idSecret', recorded: 'fingerprint aaa', here: 'fingerprint bbb' },
    ]);
    const string: StoreLayout = { ...layout, mode: 'string', buckets: null, bucketOf: null };
    expect(layoutConflicts(string, { ...string, buckets: null })).toEqual([]);
    expect(layoutConflicts(layout, string).map((c) => c.field)).toEqual(['mode']);
  });

  it('parses what it wrote, and refuses what it cannot trust with a message saying why', () => {
    const m = newManifest(layout, { serializers: ['compact'], compressors: ['snappy'] }, 'test');
    expect(parseManifest(JSON.stringify(m), key)).toEqual(m);
    expect(() => parseManifest('not json', key)).toThrow(LayoutMismatchError);
    expect(() => parseManifest(JSON.stringify({ ...m, format: 2 }), key)).toThrow(/format 2, written by a newer/);
    expect(() => parseManifest(JSON.stringify({ ...m, buckets: 'many' }), key)).toThrow(/does not describe a layout/);
    expect(() => parseManifest(JSON.stringify({ ...m, keyScheme: 'hashed' }), key)).toThrow(LayoutMismatchError);
  });
});

describe('which store a worker serves', () => {
  const env = (more: Record<string, string> = {}) => loadConfig({ SESSION_PREFIX: 'b:', ...more });

  it('derives a queue per store when QUEUE_NAME is unset (the default prefix keeps the old name)', () => {
    expect(defaultQueueName('rs:')).toBe('redisession-cleanup');
    expect(defaultQueueName('a:')).toMatch(/^redisession-cleanup-a-[0-9a-f]{8}$/);
    expect(defaultQueueName('a:')).not.toBe(defaultQueueName('a.'));
    expect(defaultQueueName('{weird} prefix with spaces and a long tail of words:')).toMatch(/^[\w.-]{1,64}$/);
    expect(env().queue).toMatchObject({ name: defaultQueueName('b:'), derived: true });
    expect(env({ QUEUE_NAME: 'mine' }).queue).toMatchObject({ name: 'mine', derived: false });
    expect(withPrefix(env(), 'c:').queue.name).toBe(defaultQueueName('c:'));
    expect(withPrefix(env({ QUEUE_NAME: 'mine' }), 'c:').queue.name).toBe('mine');
  });

  it('takes mode and buckets from the manifest, noting the environment’s; a differing secret is a problem', () => {
    const m = newManifest(layout, { serializers: [], compressors: [] }, 'test');
    const served = servedStore(env({ SESSION_BUCKETS: '4096' }), m);
    expect(served.layout.buckets).toBe(65536);
    expect(served.differences).toEqual([{ variable: 'SESSION_BUCKETS', env: 4096, manifest: 65536 }]);
    expect(served.secretProblem).toBeNull();
    const secret = servedStore(env({ SESSION_ID_SECRET: 'x'.repeat(16) }), m);
    expect(secret.secretProblem).toMatch(/manifest records ids that are not hashed/);
    const hashed = newManifest(
      { ...layout, keyScheme: 'hashed', idSecret: idSecretFingerprint('y'.repeat(16)) },
      { serializers: [], compressors: [] },
      'test',
    );
    expect(servedStore(env({ SESSION_ID_SECRET: 'y'.repeat(16) }), hashed).secretProblem).toBeNull();
    expect(servedStore(env({ SESSION_ID_SECRET: 'x'.repeat(16) }), hashed).secretProblem).toMatch(
      /fingerprint \w{12}, but the store's manifest records fingerprint \w{12}/,
    );
    expect(servedStore(env(), hashed).secretProblem).toBeNull(); // sweeps need no secret
  });

  it('refuses requests for another store, or read from another Redis; serves older requests', () => {
    const m = newManifest(layout, { serializers: [], compressors: [] }, 'test');
    const served = servedStore(env(), m);
    expect(foreignRequest('sweep request', undefined, served)).toBeNull();
    expect(foreignRequest('sweep request', { prefix: 'b:', id: null }, served)).toBeNull();
    expect(foreignRequest('sweep request', { prefix: 'b:', id: m.id }, served)).toBeNull();
    expect(foreignRequest('sweep request', { prefix: 'a:', id: null }, served)).toMatch(
      /^sweep request for store "a:" refused: this worker serves store "b:"/,
    );
    expect(foreignRequest('migration', { prefix: 'b:', id: 'other' }, served)).toMatch(/two different Redis servers/);
  });

  it('names its worker connection after its store, and reads that name back', () => {
    const name = workerName({ prefix: 'a b:{x}', id: 'abc123' });
    expect(name).not.toMatch(/\s/); // CLIENT SETNAME refuses spaces
    expect(storeOfWorker(`{redisession}:cQ==:w:${name}`)).toEqual({ prefix: 'a b:{x}', id: 'abc123' });
    expect(storeOfWorker(`{redisession}:cQ==:w:${workerName({ prefix: 'a:', id: null })}`)).toEqual({
      prefix: 'a:',
      id: null,
    });
    expect(storeOfWorker('{redisession}:cQ==')).toBeNull(); // an older worker: unknown
  });
});
