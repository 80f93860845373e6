import { readFileSync } from 'node:fs';

/*
 * The .env reader of the CLI, the worker and ecosystem.config.js. Node's process.loadEnvFile reads
 * a line without "=" (`SESSION_PREFIX app:`) as the start of a name that runs into the next line,
 * so that line's setting is silently lost; here such a line is refused with its number. The syntax
 * is the one shells and Docker Compose read: `NAME=value`, optional `export `, blanks and `#`
 * comments; '...' is literal, "..." knows \n and \" and may span lines; an unquoted value ends at a
 * `#` that follows a space (so `pa#ss` keeps its `#`).
 */

/** A .env file that is not NAME=value lines; the message names the file and the line. */
export class EnvFileError extends Error {
  override name = 'EnvFileError';
}

const ASSIGNMENT = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;

/** Every NAME=value of a .env text, in order (a later line wins, as in a shell). */
export function parseEnvFile(text: string, file = '.env'): Map<string, string> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const out = new Map<string, string>();
  const fail = (n: number, why: string): never => {
    throw new EnvFileError(`${file} line ${n}: ${why}`);
  };
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = ASSIGNMENT.exec(line);
    if (!m) {
      return fail(n, `${JSON.stringify(line.slice(0, 80))} is not NAME=value (a variable name, "=", then the value)`);
    }
    const name = m[1] as string;
    const rest = (m[2] as string).trimStart();
    const quote = rest[0];
    if (quote !== '"' && quote !== "'") {
      // `A=#x` is the value "#x"; `A= #x` and `A=x #x` end at the comment
      out.set(name, (m[2] as string).replace(/\s#.*$/, '').trim());
      continue;
    }
    // a quoted value: up to the closing quote, over several lines if need be ("..." only)
    let body = rest.slice(1);
    let close = closingQuote(body, quote);
    while (close < 0 && quote === '"' && i + 1 < lines.length) {
      body += `\n${lines[++i] as string}`;
      close = closingQuote(body, quote);
    }
    if (close < 0) fail(n, `the ${quote} quote is never closed`);
    const after = body.slice(close + 1).trim();
    if (after !== '' && !after.startsWith('#')) {
      fail(n, `unexpected ${JSON.stringify(after.slice(0, 40))} after the closing ${quote} quote`);
    }
    const value = body.slice(0, close);
    out.set(name, quote === '"' ? value.replace(/\\([n"\\])/g, (_, c) => (c === 'n' ? '\n' : c)) : value);
  }
  return out;
}

/** Index of the quote ending a value in `body`, or -1; inside "..." a backslash escapes it. */
function closingQuote(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (quote === '"' && body[i] === '\\') i++;
    else if (body[i] === quote) return i;
  }
  return -1;
}

/**
 * Sets the variables of a .env file that `env` does not have yet (the environment wins) and
 * returns their names. Throws EnvFileError for a malformed file, before setting anything.
 */
export function loadEnvFile(path: string, env: NodeJS.ProcessEnv = process.env, file = '.env'): Set<string> {
  const set = new Set<string>();
  for (const [name, value] of parseEnvFile(readFileSync(path, 'utf8'), file)) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    set.add(name);
  }
  return set;
}
