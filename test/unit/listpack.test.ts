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
    valuesOverLimit: 0,
    fieldsOverLimit: 0,
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

  it('values over hash-max-listpack-value: how many, the next power of two, and compact unless already used', () => {
    const [json] = listpackIssues(
      measured(
        {
          largestValue: {
            bytes: 165,
            compactBytes: 48,
            largest: [
              { member: 'cookie', bytes: 5 },
              { member: 'user', bytes: 30 },
            ],
          },
        },
        { maxValueBytes: 165, p95ValueBytes: 150, valuesOverLimit: 100 },
      ),
    );
    expect(json).toMatchObject({
      check: 'listpack-value',
      problem: expect.stringMatching(/100 of 100 .*\(100%\).* 64 .*165/),
    });
    expect(json?.problem).toMatch(/mostly "cookie" 5 B, "user" 30 B/);
    expect(json?.fix).toMatch(/serializer: 'compact' \(the largest would be 48 bytes\).*hash-max-listpack-value 256/);
    const [compact] = listpackIssues(
      measured({}, { maxValueBytes: 70, valuesOverLimit: 3, serializers: { compact: 100 } }),
    );
    expect(compact?.fix).toMatch(/already 'compact'.*hash-max-listpack-value 128/);
    expect(compact?.fix).not.toMatch(/store smaller/);
  });

  it('fields over hash-max-listpack-value are blamed on the session keys, not the values (issue 16)', () => {
    const issues = listpackIssues(measured({}, { maxFieldBytes: 65, fieldsOverLimit: 40 }));
    expect(issues.map((i) => i.check)).toEqual(['listpack-field']);
    expect(issues[0]?.problem).toMatch(
      /session keys \(the hash fields\) reach 65 bytes, over hash-max-listpack-value 64/,
    );
    expect(issues[0]?.fix).toMatch(/hash-max-listpack-value 128.*idSecret.*25 bytes/);
  });

  it('buckets over (or near) hash-max-listpack-entries: more buckets, how many', () => {
    expect(listpackIssues(measured({}, { maxFieldsPerBucket: 600 })).map((i) => i.check)).toEqual(['listpack-entries']);
    const near = listpackIssues(measured({ sessions: 400 * 1024 }, { maxFieldsPerBucket: 450 }));
    expect(near[0]).toMatchObject({ check: 'listpack-entries', fix: expect.stringMatching(/buckets option to 4096/) });
  });

  it('hashtable buckets: their share, and each cause counted with its own fix', () => {
    const [issue] = listpackIssues(
      measured({
        encodings: { listpack: 30, hashtable: 10 },
        hashtables: {
          examined: 10,
          value: 0,
          field: 6,
          entries: 0,
          earlier: 4,
          maxValueBytes: 40,
          maxFieldBytes: 65,
          limitsAssumed: false,
        },
      }),
    );
    expect(issue?.problem).toMatch(/^10 of the 40 buckets seen \(25%\) are hashtables/);
    expect(issue?.problem).toMatch(
      /6 a field \(session key\) over 64 bytes \(the largest 65\); 4 none of these any more/,
    );
    expect(issue?.problem).not.toMatch(/hold a value/);
    expect(issue?.fix).toMatch(/^fields: .*idSecret.* \| those turn back into listpacks only when Redis rewrites them/);
    expect(issue?.fix).not.toMatch(/values:/);
  });

  it('hashtable buckets are reported even when CONFIG is not readable', () => {
    const issues = listpackIssues(measured({ limits: null, encodings: { listpack: 3, hashtable: 2 } }));
    expect(issues.map((i) => i.check)).toEqual(['encoding']);
    expect(issues[0]?.problem).toMatch(/^2 of the 5 buckets seen \(40%\)/);
  });
});
