import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stripLuaComments, trimLua } from '../../src/redis/lua-trim.js';
import { lua, SCRIPTS } from '../../src/redis/scripts.js';

const helpersIn = (source: string) => [...source.matchAll(/^local function (\w+)\(/gm)].map((m) => m[1] as string);

describe('trimLua', () => {
  it('drops comments and blank lines, never what sits inside a string', () => {
    const source = [
      '--[[ a block',
      '  comment ]]',
      "local s = '-- not a comment' -- a comment",
      '',
      'local t = "--[[ nor this ]]"',
      'return s .. t',
    ].join('\n');
    expect(stripLuaComments(source)).toBe(
      ["local s = '-- not a comment'", 'local t = "--[[ nor this ]]"', 'return s .. t'].join('\n'),
    );
  });

  it('keeps the helpers a script reaches, directly or through another helper, and only those', () => {
    const source = [
      'local function a(x)',
      '  return x + 1',
      'end',
      'local function b(x)',
      '  return a(x) * 2',
      'end',
      'local function unused(x)',
      '  return a(x)',
      'end',
      'local function also_unused()',
      '  return 0',
      'end',
      'return b(1)',
    ].join('\n');
    const trimmed = trimLua(source);
    expect(helpersIn(trimmed)).toEqual(['a', 'b']);
    expect(trimmed.endsWith('return b(1)')).toBe(true);
  });

  it('refuses what it cannot trim safely instead of guessing', () => {
    expect(() =>
      trimLua('local function unused(x) return x end\nlocal function used(x)\n  return x\nend\nreturn used(1)'),
    ).toThrow(/one line/);
    expect(() => trimLua('local function f(x)\nreturn x\nend\nreturn f(1)')).toThrow(/column 0/);
    expect(() => trimLua('local s = [[a -- b]]\nreturn s')).toThrow(/long bracket/);
    expect(() => trimLua('--[==[ a\nb ]==]\nreturn 1')).toThrow(/long bracket/);
    expect(trimLua('return a--[[x]]or b')).toBe('return a or b');
  });

  it('leaves every script of src/lua with each helper it calls defined', () => {
    const all = [
      'prelude.lua',
      'includes/value.lua',
      'includes/session.lua',
      'includes/user_entry.lua',
      'includes/sweeping.lua',
    ]
      .map((f) => readFileSync(new URL(`../../src/lua/${f}`, import.meta.url), 'utf8'))
      .join('\n');
    const helpers = helpersIn(all);
    expect(helpers.length).toBeGreaterThan(15);
    for (const { file } of Object.values(SCRIPTS)) {
      const trimmed = lua(file);
      const defined = new Set(helpersIn(trimmed));
      for (const name of helpers) {
        if (new RegExp(`\\b${name}\\(`).test(trimmed.replace(/^local function \w+\(/gm, ''))) {
          expect(defined.has(name), `${file} calls ${name}`).toBe(true);
        }
      }
      // and nothing it does not use: each kept helper is called somewhere
      for (const name of defined) {
        expect(trimmed.match(new RegExp(`\\b${name}\\b`, 'g'))?.length, `${file} keeps ${name}`).toBeGreaterThan(1);
      }
    }
  });
});
