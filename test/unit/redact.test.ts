import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../worker/src/worker/redact.js';

describe('redactUrl', () => {
  it.each([
    ['redis://user:hunter2@127.0.0.1:6379/0', 'redis://user:***@127.0.0.1:6379/0'],
    ['user:hunter2@127.0.0.1:6379', '***@127.0.0.1:6379'],
    // an unencoded "/" in the password makes it no URL at all: still masked
    ['redis://:hun/ter2@127.0.0.1:6379', 'redis://***@127.0.0.1:6379'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
  ])('%s -> %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
    expect(redactUrl(url)).not.toMatch(/hunter2|hun\/ter2|ter2/);
  });
});
