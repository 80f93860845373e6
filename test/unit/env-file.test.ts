import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../worker/src/worker/config.js';
import { EnvFileError, loadEnvFile, parseEnvFile } from '../../worker/src/worker/env-file.js';

const parse = (text: string) => Object.fromEntries(parseEnvFile(text));

describe('.env parsing', () => {
  it('reads NAME=value lines, blanks, comments and export', () => {
    expect(parse('# c\n\nA=1\nexport B=two\n  C = spaced  \r\nD=\n')).toEqual({ A: '1', B: 'two', C: 'spaced', D: '' });
  });

  it('ends an unquoted value at a # after a space only', () => {
    expect(parse('A=x #comment\nB=pa#ss\nC=#x\nD= #only a comment')).toEqual({ A: 'x', B: 'pa#ss', C: '#x', D: '' });
  });

  it('keeps quoted values as written: single literal, double with \\n and \\", over several lines', () => {
    expect(parse(`A='x #y \\n'\nB="a\\nb \\"q\\""  # c\nC="line 1\nline 2"\nD=after`)).toEqual({
      A: 'x #y \\n',
      B: 'a\nb "q"',
      C: 'line 1\nline 2',
      D: 'after',
    });
  });

  it('lets a later line win, as a shell does', () => {
    expect(parse('A=1\nA=2')).toEqual({ A: '2' });
  });

  it.each([
    ['SESSION_PREFIX app:\nSESSION_BUCKETS=16', /\.env line 1: "SESSION_PREFIX app:" is not NAME=value/],
    ['A=1\n2A=x', /\.env line 2: "2A=x" is not NAME=value/],
    ['A=1\nB="open\nC=2', /\.env line 2: the " quote is never closed/],
    ["A='x\nB=1'", /\.env line 1: the ' quote is never closed/],
    ['A="x" y', /\.env line 1: unexpected "y" after the closing " quote/],
  ])('refuses %j, naming the line', (text, message) => {
    expect(() => parseEnvFile(text)).toThrow(EnvFileError);
    expect(() => parseEnvFile(text)).toThrow(message);
  });

  it('loads into an environment without overriding what is set, and says what it set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'redisession-envfile-'));
    try {
      const path = join(dir, '.env');
      writeFileSync(path, 'A=from-file\nB=from-file\nC=from-file\n');
      const env: NodeJS.ProcessEnv = { A: 'from-env', C: '' };
      expect([...loadEnvFile(path, env)]).toEqual(['B']);
      expect(env).toEqual({ A: 'from-env', B: 'from-file', C: '' });
      writeFileSync(path, 'A=1\nbroken line\n');
      const untouched: NodeJS.ProcessEnv = {};
      expect(() => loadEnvFile(path, untouched)).toThrow(/line 2/);
      expect(untouched).toEqual({}); // nothing set from a file that is refused
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('.env.example', () => {
  it('is a valid .env whose every value is the default', () => {
    const example = Object.fromEntries(
      parseEnvFile(readFileSync(new URL('../../worker/.env.example', import.meta.url), 'utf8')),
    );
    expect(Object.keys(example)).toContain('LOG_REDIS_DOWN_EVERY');
    expect(loadConfig(example)).toEqual(loadConfig({}));
  });
});
