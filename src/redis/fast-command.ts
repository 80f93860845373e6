import { createHash } from 'node:crypto';
import { Command } from 'ioredis';
import type { RedisClient } from './connections.js';
import { lua, SCRIPTS, type ScriptName } from './scripts.js';
import './string-prototype.js';

/*
 * The request path's commands (GET/HGET, SET, PEXPIRE, UNLINK/HDEL, the hash-mode scripts, and the
 * sweep's bucket scan on a single Redis), sent through ioredis with the wire format built here in
 * one pass.
 *
 * ioredis sends a command with any Buffer argument (our keys are binary) through a slow path: it
 * collects header strings and Buffers and measures each twice before copying them into a new
 * Buffer (Command#toWritable, MixedBuffers), about 1.5 µs for an HGET of two short keys, against
 * 0.2 µs here. Everything else stays ioredis's: routing (cluster slots from the command's keys),
 * the offline queue, resends after a reconnect, timeouts, reply parsing.
 */

export type Arg = Buffer | string | number;

const BUFFER_REPLY = { replyEncoding: null };

/** Characters of a non-negative integer in decimal. */
function digitCount(n: number): number {
  let count = 1;
  for (let limit = 10; n >= limit; limit *= 10) count++;
  return count;
}

/** Writes a non-negative integer in decimal; returns the position after it. */
function writeDigits(out: Buffer, at: number, n: number): number {
  const end = at + digitCount(n);
  let pos = end;
  // integer division while it fits in 31 bits (ms timestamps do not), then float division
  while (n > 0x7fffffff) {
    const q = Math.floor(n / 10);
    out[--pos] = 48 + (n - q * 10);
    n = q;
  }
  do {
    const q = (n / 10) | 0;
    out[--pos] = 48 + (n - q * 10);
    n = q;
  } while (n > 0);
  return end;
}

/** Buffers, strings and non-negative safe integers are written as they are; any other number becomes text first. */
function isPlain(arg: Arg): boolean {
  return typeof arg !== 'number' || (Number.isSafeInteger(arg) && arg >= 0);
}

/** How ioredis writes a string or number (an integer past 2^53 exactly, as BigInt prints it). */
function asText(arg: Arg): string {
  if (typeof arg === 'number' && Number.isInteger(arg) && !Number.isSafeInteger(arg)) return BigInt(arg).toString();
  return String(arg);
}

const names = new Map<string, Buffer>();

/** A command name's bytes (the few this module sends), made once. */
function nameBytes(name: string): Buffer {
  let bytes = names.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'utf8');
    if (names.size < 32) names.set(name, bytes);
  }
  return bytes;
}

/** `*<count>\r\n` then `$<len>\r\n<bytes>\r\n` per part (RESP's array of bulk strings). */
export function encodeCommand(name: string, args: readonly Arg[]): Buffer {
  const head = nameBytes(name);
  let size = 1 + digitCount(args.length + 1) + 2 + 1 + digitCount(head.length) + 2 + head.length + 2;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as Arg;
    if (!isPlain(arg))
      return encodeCommand(
        name,
        args.map((a) => (isPlain(a) ? a : asText(a))),
      );
    const length =
      typeof arg === 'number' ? digitCount(arg) : typeof arg === 'string' ? Buffer.byteLength(arg) : arg.length;
    size += 1 + digitCount(length) + 2 + length + 2;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x2a; // *
  let at = writeDigits(out, 1, args.length + 1);
  out[at++] = 13;
  out[at++] = 10;
  for (let i = -1; i < args.length; i++) {
    const arg = i < 0 ? head : (args[i] as Arg);
    out[at++] = 0x24; // $
    if (typeof arg === 'number') {
      at = writeDigits(out, at, digitCount(arg));
      out[at++] = 13;
      out[at++] = 10;
      at = writeDigits(out, at, arg);
    } else if (typeof arg === 'string') {
      at = writeDigits(out, at, Buffer.byteLength(arg));
      out[at++] = 13;
      out[at++] = 10;
      at += out.write(arg, at);
    } else {
      at = writeDigits(out, at, arg.length);
      out[at++] = 13;
      out[at++] = 10;
      out.set(arg, at);
      at += arg.length;
    }
    out[at++] = 13;
    out[at++] = 10;
  }
  return out;
}

const NO_ARGS: readonly Arg[] = Object.freeze([]);

/**
 * An ioredis command whose bytes are built by encodeCommand. Its arguments are set after ioredis's
 * constructor, which would otherwise copy them and turn every number into a string (about as long
 * as the encoding itself), for a toWritable that no longer reads them: ioredis still reads them for
 * a cluster's key slot (getKeyIndexes takes numbers as well as strings).
 */
class EncodedCommand extends Command {
  constructor(name: string, args: Arg[]) {
    super(name, NO_ARGS as Arg[], BUFFER_REPLY);
    this.args = args;
  }

  override toWritable(_socket: object): Buffer {
    return encodeCommand(this.name, this.args as Arg[]);
  }
}

/** Sends one command; the reply as ioredis gives it, with bulk strings as Buffers. */
export function sendBuffer(client: RedisClient, name: string, args: Arg[]): Promise<unknown> {
  return client.sendCommand(new EncodedCommand(name, args)) as Promise<unknown>;
}

/**
 * sendBuffer, where an error reply may be answered another way: `recover(err)` gives what the
 * command settles with instead (its promise's outcome), or null to reject with the error. Done on
 * the command itself, so the usual reply costs no extra promise.
 */
export function sendBufferOr(
  client: RedisClient,
  name: string,
  args: Arg[],
  recover: (err: Error) => Promise<unknown> | null,
): Promise<unknown> {
  const command = new EncodedCommand(name, args);
  const { resolve, reject } = command;
  // ioredis calls reject with a command's error reply; a Cluster wraps this for its redirections
  command.reject = (err: Error) => {
    const instead = recover(err);
    if (instead === null) return reject(err);
    // answered (ioredis has taken it off its queue): a deadline watch must not take it for waiting
    command.isSettled = true;
    instead.then(resolve, reject);
  };
  return client.sendCommand(command) as Promise<unknown>;
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
    super('evalsha', args);
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
      this.args[0] = script.luaBytes;
    } else if (this.name === 'eval') {
      this.name = 'evalsha';
      this.args[0] = script.shaBytes;
    }
    return super.toWritable(socket);
  }
}

/** One of our Lua scripts on the request path. */
export class FastScript {
  readonly shaBytes: Buffer;
  readonly luaBytes: Buffer;
  /** Sockets known to have the script loaded (ioredis replaces its socket on every reconnect). */
  readonly loaded = new WeakSet<object>();

  constructor(
    lua: string,
    /** undefined: a script taking any number of keys, given on each call */
    private readonly numberOfKeys?: number,
  ) {
    this.luaBytes = Buffer.from(lua, 'utf8');
    this.shaBytes = Buffer.from(createHash('sha1').update(lua).digest('hex'), 'latin1');
  }

  /**
   * Runs the script on its keys, then its arguments (a script taking any number of keys: how
   * many). The array becomes the command's: pass a fresh one.
   */
  run(client: RedisClient, keysThenArgs: Arg[], numberOfKeys = this.numberOfKeys): Promise<unknown> {
    if (numberOfKeys === undefined) throw new TypeError('this script takes any number of keys: say how many');
    keysThenArgs.unshift(this.shaBytes, numberOfKeys);
    const command = new ScriptCommand(this, client, keysThenArgs);
    return client.sendCommand(command) as Promise<unknown>;
  }
}

const requestScripts = new Map<ScriptName, FastScript>();

/** One of SCRIPTS (src/lua), for the request path; made once per process. */
export function requestScript(name: ScriptName): FastScript {
  let script = requestScripts.get(name);
  if (!script) {
    const { file, numberOfKeys } = SCRIPTS[name];
    script = new FastScript(lua(file), numberOfKeys);
    requestScripts.set(name, script);
  }
  return script;
}
