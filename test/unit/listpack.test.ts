import { describe, expect, it } from 'vitest';
import { listpackIssues } from '../../src/inspect/listpack.js';

const measured = (over: Record<string, unknown> = {}, entries: Record<string, unknown> = {}) => ({
  buckets: 1024,
  bucketsInUse: 1000,
  sessions: 5000,
  encodings: { listpack: 1000 } as Record<string, number>,
  limits: { value: 64, entries: 512 },
  entries: {
    sampledFields: 100,
    maxValueBytes: 60,
    p95ValueBytes: 50,
    maxFieldBytes: 25,
    maxFieldsPerBucket: 12,
    serializers: { json: 100 } as Record<string, number>,
    ...entries,
  },
  ...over,
});

describe('listpackIssues', () => {
  it('finds nothing while entries fit the limits', () => {
    expect(listpackIssues(measured())).toEqual([]);
  });

  it('values over hash-max-listpack-value: the next power of two, and compact unless already used', () => {
    const [json] = listpackIssues(measured({}, { maxValueBytes: 165, p95ValueBytes: 150 }));
    expect(json).toMatchObject({ check: 'listpack-value', problem: expect.stringMatching(/165 bytes .* 64/) });
    expect(json?.fix).toMatch(/serializer: 'compact'.*hash-max-listpack-value 256/);
    const [compact] = listpackIssues(measured({}, { maxValueBytes: 70, serializers: { compact: 100 } }));
    expect(compact?.fix).toMatch(/already 'compact'.*hash-max-listpack-value 128/);
    expect(compact?.fix).not.toMatch(/store smaller/);
  });

  it('buckets over (or near) hash-max-listpack-entries: more buckets', () => {
    expect(listpackIssues(measured({}, { maxFieldsPerBucket: 600 })).map((i) => i.check)).toEqual(['listpack-entries']);
    const near = listpackIssues(measured({ sessions: 400 * 1024 }, { maxFieldsPerBucket: 450 }));
    expect(near[0]).toMatchObject({ check: 'listpack-entries', fix: expect.stringMatching(/buckets option/) });
  });

  it('hashtable buckets are reported even when CONFIG is not readable', () => {
    const issues = listpackIssues(measured({ limits: null, encodings: { listpack: 3, hashtable: 2 } }));
    expect(issues.map((i) => i.check)).toEqual(['encoding']);
    expect(issues[0]?.problem).toMatch(/^2 of the buckets/);
  });
});
