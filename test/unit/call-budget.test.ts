import { describe, expect, it } from 'vitest';
import { CallBudget, DEFAULT_CALL_BUDGET_US, MAX_BUCKETS_PER_CALL } from '../../src/sweep/call-budget.js';

describe('CallBudget', () => {
  it('starts modest, then sizes calls to the target from the rate seen', () => {
    const b = new CallBudget(100);
    expect(b.fields).toBe(32);
    // 0.5 units a µs, 10 units a bucket (1 + 9 fields)
    for (let i = 0; i < 20; i++) b.record(200, 20, 400);
    expect(b.fields).toBe(50);
    expect(b.buckets).toBe(6); // 50 / 10, and one more
  });

  it('follows a slower server within a few calls, and one slow call only nudges it', () => {
    const b = new CallBudget(100);
    for (let i = 0; i < 20; i++) b.record(100, 10, 100); // 1 unit a µs
    expect(b.fields).toBe(100);
    b.record(100, 10, 1000); // one call ten times slower
    expect(b.fields).toBeGreaterThan(60);
    for (let i = 0; i < 10; i++) b.record(100, 10, 1000);
    expect(b.fields).toBeLessThan(15);
  });

  it('stays within bounds: a few fields at least, at most MAX_BUCKETS_PER_CALL buckets', () => {
    const slow = new CallBudget(10);
    slow.record(10, 1, 100_000);
    expect(slow.fields).toBe(8);
    expect(slow.buckets).toBeGreaterThanOrEqual(1);
    const fast = new CallBudget(100_000);
    fast.record(1000, 1000, 1);
    expect(fast.buckets).toBe(MAX_BUCKETS_PER_CALL);
    const zero = new CallBudget();
    zero.record(0, 0, 0); // an empty reply teaches nothing
    expect(zero.fields).toBe(32);
    expect(zero.targetUs).toBe(DEFAULT_CALL_BUDGET_US);
  });
});
