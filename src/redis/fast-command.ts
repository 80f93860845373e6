import { createHash } from 'node:crypto';
import { Command } from 'ioredis';
import type { RedisClient } from './connections.js';
import { lua, SCRIPTS, type SingleKeyScript } from './scripts.js';

/*
 * The request path's commands (GET/HGET, SET, PEXPIRE, UNLINK/HDEL and the hash-mode scripts),
 * sent through ioredis with the wire format built here in one pass.
 *
 * ioredis sends a command with any Buffer argument (our keys are binary) through a slow path: it
 * collects header strings and Buffers and measures each twice before copying them into a new
 * Buffer (Command#toWritable, MixedBuffers), about 1.5 µs for an HGET of two short keys, against
 * 0.2 µs here. Everything else stays ioredis's: routing (cluster slots from the command's keys),
 * the offline queue, resends after a reconnect, timeouts, reply parsing.
 */

type Arg = Buffer | string | number;

const BUFFER_REPLY = { replyEncoding: null };

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Characters of a non-negative integer in decimal. */
function digitCount(n: number): number {
  let count = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    count++;
  }
  return count;
}

function writeDigits(out: Buffer, at: number, n: number): number {
  const end = at + digitCount(n);
  let pos = end;
  do {
    out[--pos] = 48 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return end;
}

/** `*<count>\r\n` then `$<len>\r\n<bytes>\r\n` per part (RESP's array of bulk strings). */
export function encodeCommand(name: string, args: readonly Arg[]): Buffer {
  // ASCII strings are written byte by byte; anything else becomes bytes once, here
  const parts: Array<Buffer | string> = new Array(args.length + 1);
  parts[0] = name;
  let size = 1 + digitCount(args.length + 1) + 2;
  for (let i = 0; i <= args.length; i++) {
    const arg = i === 0 ? name : (args[i - 1] as Arg);
    let part: Buffer | string;
    if (typeof arg === 'string') part = isAscii(arg) ? arg : Buffer.from(arg, 'utf8');
    else if (typeof arg === 'number') part = String(arg);
    else part = arg;
    parts[i] = part;
    size += 1 + digitCount(part.length) + 2 + part.length + 2;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x2a; // *
  let at = writeDigits(out, 1, parts.length);
  out[at++] = 13;
  out[at++] = 10;
  for (const part of parts) {
    out[at++] = 0x24; // $
    at = writeDigits(out, at, part.length);
    out[at++] = 13;
    out[at++] = 10;
    if (typeof part === 'string') {
      for (let i = 0; i < part.length; i++) out[at++] = part.charCodeAt(i);
    } else {
      out.set(part, at);
      at += part.length;
    }
    out[at++] = 13;
    out[at++] = 10;
  }
  return out;
}

/** An ioredis command whose bytes are built by encodeCommand. */
class EncodedCommand extends Command {
  override toWritable(_socket: object): Buffer {
    return encodeCommand(this.name, this.args as Arg[]);
  }
}

/** Sends one command; the reply as ioredis gives it, with bulk strings as Buffers. */
export function sendBuffer(client: RedisClient, name: string, args: Arg[]): Promise<unknown> {
  return client.sendCommand(new EncodedCommand(name, args, BUFFER_REPLY)) as Promise<unknown>;
}

/**
 * A script call: EVALSHA, or EVAL on a socket that may not have the script (as ioredis does). A
 * NOSCRIPT (the script cache was flushed, or Redis restarted) sends the same command once more,
 * which goes out as EVAL; the caller's promise only settles with the second answer.
 */
class ScriptCommand extends EncodedCommand {
  /** The socket it was last written to. */
  private socket: object | null = null;

  constructor(
    private readonly script: FastScript,
    client: RedisClient,
    args: Arg[],
  ) {
    super('evalsha', args, BUFFER_REPLY);
    const reject = this.reject;
    let retried = false;
    // ioredis calls reject with a command's error reply; a Cluster wraps this for its redirections
    this.reject = (err: Error) => {
      if (retried || !err?.message?.includes('NOSCRIPT')) return reject(err);
      retried = true;
      if (this.socket) script.loaded.delete(this.socket);
      client.sendCommand(this);
    };
  }

  override toWritable(socket: object): Buffer {
    const { script } = this;
    this.socket = socket;
    if (!script.loaded.has(socket)) {
      script.loaded.add(socket);
      this.name = 'eval';
      this.args[0] = script.lua;
    } else if (this.name === 'eval') {
      this.name = 'evalsha';
      this.args[0] = script.sha;
    }
    return super.toWritable(socket);
  }
}

/** One of our Lua scripts on the request path. */
export class FastScript {
  readonly sha: string;
  /** Sockets known to have the script loaded (ioredis replaces its socket on every reconnect). */
  readonly loaded = new WeakSet<object>();

  constructor(
    readonly lua: string,
    private readonly numberOfKeys: number,
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script on its keys, then its arguments (a script taking any number of keys: how many). */
  run(client: RedisClient, keysThenArgs: Arg[], numberOfKeys = this.numberOfKeys): Promise<unknown> {
    const command = new ScriptCommand(this, client, [this.sha, numberOfKeys, ...keysThenArgs]);
    return client.sendCommand(command) as Promise<unknown>;
  }
}

const requestScripts = new Map<SingleKeyScript, FastScript>();

/** One of SCRIPTS (src/lua), for the request path; made once per process. */
export function requestScript(name: SingleKeyScript): FastScript {
  let script = requestScripts.get(name);
  if (!script) {
    const { file, numberOfKeys } = SCRIPTS[name];
    script = new FastScript(lua(file), numberOfKeys);
    requestScripts.set(name, script);
  }
  return script;
}
