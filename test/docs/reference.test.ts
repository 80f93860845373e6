import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSessionStore, DEFAULTS, type SessionStoreOptions } from 'redisession';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN } from '../helpers/cli.js';
import { ROOT } from '../helpers/examples.js';
import { readDoc } from '../helpers/markdown.js';

/*
 * docs/configuration.md against the code, so the reference cannot drift: every store option (the
 * list the store's own "unknown option" error gives) with its DEFAULTS value, every variable of
 * .env.example with its default, every command and flag of the CLI's --help.
 */

const exec = promisify(execFile);
const PAGE = 'docs/configuration.md';

/** The rows of the first table under a `## heading` of the page, as arrays of cells. */
function tableRows(heading: string): string[][] {
  const text = readDoc(PAGE);
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`${PAGE} has no "## ${heading}" section`);
  const section = text.slice(start + 1).split(/\n## /)[0] as string;
  const lines = section.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (let i = first + 2; i < lines.length && (lines[i] as string).startsWith('|'); i++) {
    // a cell's `\|` is a pipe inside the cell, not a column
    const cells = (lines[i] as string).split(/(?<!\\)\|/).slice(1, -1);
    rows.push(cells.map((c) => c.replaceAll('\\|', '|').trim()));
  }
  return rows;
}

/** The `names` in a cell: `foo`, `foo(sid)` and `FOO` give foo and FOO. */
const codeNames = (cell: string) => [...cell.matchAll(/`([A-Za-z_][\w]*)(?:\([^`]*\))?`/g)].map((m) => m[1] as string);

function knownStoreOptions(): string[] {
  try {
    createSessionStore({ 'no such option': 1 } as SessionStoreOptions);
  } catch (err) {
    const known = /known options: (.*)$/.exec((err as Error).message)?.[1];
    if (known) return known.split(', ');
  }
  throw new Error('createSessionStore no longer lists its known options in its error: update this test');
}

describe(`${PAGE}: store options`, () => {
  const rows = tableRows('Store options');
  const documented = new Map(rows.map((r) => [codeNames(r[0] as string)[0] as string, r]));

  it('lists every option the store takes, and no other', () => {
    expect([...documented.keys()].sort()).toEqual(knownStoreOptions().sort());
  });

  it.each(Object.entries(DEFAULTS))('gives the default of %s as DEFAULTS has it', (name, value) => {
    const shown = typeof value === 'string' ? `\`'${value}'\`` : `\`${String(value)}\``;
    expect(documented.get(name)?.[1]).toBe(shown);
  });
});

describe(`${PAGE}: worker and CLI environment`, () => {
  const example = readFileSync(join(ROOT, 'worker/.env.example'), 'utf8');
  const variables = new Map(
    [...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1] as string, (m[2] as string).trim()]),
  );
  const rows = tableRows('Worker and CLI environment');

  it('has a row for every variable of .env.example, and no other', () => {
    const documented = rows.flatMap((r) => codeNames(r[0] as string));
    expect([...documented].sort()).toEqual([...variables.keys()].sort());
  });

  it('gives the default .env.example gives', () => {
    const wrong: string[] = [];
    for (const row of rows) {
      for (const name of codeNames(row[0] as string)) {
        const value = variables.get(name);
        if (value && row[1] !== `\`${value}\``) wrong.push(`${name}: ${row[1]} here, ${value} in .env.example`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe(`${PAGE}: CLI commands`, () => {
  const rows = tableRows('CLI commands');
  const rowOf = (command: string) => rows.find((r) => (r[0] as string).startsWith(`\`redisession ${command}`));
  let commands: string[] = [];

  beforeAll(async () => {
    assertBuilt();
    const { stdout } = await exec(process.execPath, [BIN, '--help']);
    commands = [...stdout.matchAll(/^ {2}redisession (\w+)/gm)].map((m) => m[1] as string);
  });

  it('has a row for every command, and no other', () => {
    expect(commands.length).toBeGreaterThan(0);
    const documented = rows.map((r) => /^`redisession (\w+)/.exec(r[0] as string)?.[1]);
    expect(documented.sort()).toEqual([...commands].sort());
  });

  it('names every flag of every command', async () => {
    const missing: string[] = [];
    const helps = await Promise.all(commands.map((c) => exec(process.execPath, [BIN, c, '--help'])));
    for (const [i, command] of commands.entries()) {
      const flags = [...(helps[i]?.stdout ?? '').matchAll(/^ {2}(--[\w-]+)/gm)].map((m) => m[1] as string);
      const row = (rowOf(command) ?? []).join(' ');
      for (const flag of flags) {
        if (flag !== '--help' && flag !== '--version' && !new RegExp(`${flag}\\b`).test(row)) {
          missing.push(`${command} ${flag}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
