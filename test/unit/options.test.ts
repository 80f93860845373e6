import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/store/errors.js';
import { DEFAULTS, resolveOptions } from '../../src/store/options.js';

describe('resolveOptions', () => {
  it('fills the seed defaults', () => {
    const o = resolveOptions({});
    expect(DEFAULTS).toMatchObject({
      mode: 'hash',
      prefix: 'rs:',
      ttl: 86400,
      buckets: 65536,
      compression: 'snappy',
      compressMinLength: 400,
      serializer: 'compact',
    });
    expect(o.mode).toBe('hash');
    expect(o.serializer.id).toBe(2); // 'compact' (format 2) for new writes
    expect(resolveOptions({ serializer: 'compact-v1' }).serializer.id).toBe(1); // for a rolling upgrade
    expect(o.ttlMs).toBe(86_400_000);
    expect(o.compressor?.id).toBe(1);
    expect(o.logKeyErrors).toBe(false);
  });

  it.each([
    [{ mode: 'list' }, /"mode".*'hash', 'string'/],
    [{ ttl: 0 }, /"ttl": got 0/],
    [{ ttl: -5 }, /"ttl"/],
    [{ buckets: 0 }, /"buckets".*1 to 16777216/],
    [{ buckets: 1.5 }, /"buckets"/],
    [{ prefix: '' }, /"prefix"/],
    [{ compression: 'lz4' }, /"compression".*'snappy', 'gzip', 'brotli', 'none'/],
    [{ compression: { id: -3, compress: (b: Buffer) => b, decompress: (b: Buffer) => b } }, /"compression.id"/],
    [{ serializer: 'yaml' }, /"serializer".*'compact', 'json', 'compact-v1'/],
    [{ compressMinLength: -1 }, /"compressMinLength"/],
    [{ logKeyErrors: 'yes' }, /"logKeyErrors"/],
    [{ keyGenerator: 'md5' }, /"keyGenerator".*function/],
    [{ redis: 'nosuchname' }, /"redis".*default/],
    [{ ttll: 5 }, /unknown option "ttll"; known options: redis, client, mode/],
    // rounds to 0 ms: every session without cookie.expires would be deleted instead of stored
    [{ ttl: 0.0004 }, /"ttl": got 0.0004; expected a number of seconds from 0.001/],
    [{ sweepGrace: -1 }, /"sweepGrace"/],
    [{ durability: { replicas: 0, timeoutMs: 100 } }, /"durability.replicas"/],
    [{ durability: { replicas: 1, timeoutMs: 0 } }, /"durability.timeoutMs".*1 to 60000/],
    [{ durability: { replicas: 1 } }, /"durability.timeoutMs"/],
    [{ durability: { replicas: 1, timeoutMs: 100, wait: true } }, /"durability": unknown field "wait"/],
  ])('rejects %o with a message naming it', (bad, message) => {
    expect(() => resolveOptions(bad as never)).toThrow(ConfigError);
    expect(() => resolveOptions(bad as never)).toThrow(message);
  });

  it('sweepGrace and durability', () => {
    expect(resolveOptions({}).sweepGraceMs).toBe(60_000);
    expect(resolveOptions({}).durability).toBeNull();
    expect(resolveOptions({ sweepGrace: 300, durability: { replicas: 1, timeoutMs: 250 } })).toMatchObject({
      sweepGraceMs: 300_000,
      durability: { replicas: 1, timeoutMs: 250 },
    });
    expect(resolveOptions({ ttl: 0.001 }).ttlMs).toBe(1);
  });

  it('treats undefined as "use the default", never as a value', () => {
    expect(resolveOptions({ ttl: undefined, mode: undefined }).ttlMs).toBe(86_400_000);
  });

  it('accepts custom codecs with numeric or named ids', () => {
    const o = resolveOptions({
      compression: { id: 'zstd', compress: (b) => b, decompress: (b) => b },
      serializer: { id: 9, serialize: (s) => JSON.stringify(s), deserialize: (b) => JSON.parse(b.toString()) },
    });
    expect(o.compressor?.id).toBe('zstd');
    expect(o.serializer.id).toBe(9);
  });
});

describe('logger option', () => {
  it('accepts a partial logger such as console and binds its methods', () => {
    const seen: string[] = [];
    const partial = {
      prefix: 'p:',
      warn(this: { prefix: string }, _obj: object, msg?: string) {
        seen.push(`${this.prefix}${msg}`);
      },
    };
    const { logger } = resolveOptions({ logger: partial as never });
    logger.warn({}, 'hello');
    logger.debug({}, 'dropped');
    expect(seen).toEqual(['p:hello']);
  });

  it('rejects a logger with none of the methods', () => {
    expect(() => resolveOptions({ logger: { info: () => {} } as never })).toThrow(/"logger"/);
  });
});

describe('sweep options', () => {
  it('accepts the usual spellings and refuses what it does not know', async () => {
    const { resolveSweepOptions } = await import('../../src/sweep/options.js');
    expect(resolveSweepOptions({ grace: 5, batchSize: 10, sampleSize: 3, dry: true })).toMatchObject({
      graceMs: 5000,
      batch: 10,
      sample: 3,
      dryRun: true,
    });
    expect(resolveSweepOptions({})).toMatchObject({ graceMs: 60_000, batch: 100, sample: 100, dryRun: false });
    expect(() => resolveSweepOptions({ strategy: 'all' as never })).toThrow(/"strategy".*full, sample, existing/);
    expect(() => resolveSweepOptions({ batch: 0 })).toThrow(/"batch"/);
    expect(() => resolveSweepOptions({ graceMs: -1 })).toThrow(/"graceMs"/);
    expect(() => resolveSweepOptions({ gracePeriod: 0 } as never)).toThrow(/unknown sweep option "gracePeriod"/);
  });
});
