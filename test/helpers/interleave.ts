import type { Cluster, Redis } from 'ioredis';

/*
 * Control over the order in which Redis runs the commands of concurrent store operations, for race
 * tests that must reproduce a window every time instead of once in a thousand runs. A client's
 * commands are intercepted where ioredis hands them to the connection (sendCommand) and grouped in
 * units: a plain command, or every command of one pipeline (they go out in one write). A unit is
 * sent only when the test says so, and the test learns when Redis answered it, so the server sees
 * exactly the interleaving the test chose. Nothing is mocked: real clients, a real server.
 */

// biome-ignore lint/suspicious/noExplicitAny: ioredis's Command is not exported as a type
type Command = any;
type Send = (command: Command, stream?: unknown, node?: unknown) => unknown;

export interface Unit {
  /** Which client sent it (the label given to intercept). */
  client: string;
  /** Command names, lower case. */
  names: string[];
  /** Hands the unit to the connection; resolves when Redis answered every command of it. */
  send(): Promise<void>;
}

/**
 * Routes every command the client sends from now on through `onUnit`, which decides when to call
 * unit.send(). Returns a function that restores the client. Connect the client before (the
 * handshake must not wait for the test).
 */
export function intercept(client: Redis | Cluster, label: string, onUnit: (unit: Unit) => void): () => void {
  const target = client as unknown as { sendCommand: Send };
  const original = target.sendCommand;
  let open: { stream: unknown; calls: Array<() => void>; settled: Promise<void>[]; names: string[] } | null = null;
  target.sendCommand = function (this: unknown, command: Command, stream?: unknown, node?: unknown) {
    // the reply settles the command's raw resolve/reject (ioredis may chain more onto .promise,
    // such as a NOSCRIPT retry that is a unit of its own)
    const settled = new Promise<void>((done) => {
      const { resolve, reject } = command;
      command.resolve = (v: unknown) => {
        done();
        resolve(v);
      };
      command.reject = (e: unknown) => {
        done();
        reject(e);
      };
    });
    const call = () => original.call(client, command, stream, node);
    const name = String(command.name).toLowerCase();
    if (stream !== undefined && open && open.stream === stream) {
      open.calls.push(call);
      open.settled.push(settled);
      open.names.push(name);
      return command.promise;
    }
    const unit = { stream, calls: [call], settled: [settled], names: [name] };
    // a pipeline's commands arrive in one synchronous loop: the unit is complete on the next tick
    if (stream !== undefined) open = unit;
    queueMicrotask(() => {
      if (open === unit) open = null;
      onUnit({
        client: label,
        names: unit.names,
        async send() {
          for (const c of unit.calls) c();
          await Promise.all(unit.settled);
        },
      });
    });
    return command.promise;
  };
  return () => {
    target.sendCommand = original;
  };
}

/**
 * A client whose commands can be stopped at a chosen point: `stopAfter(k)` lets the next k units
 * through (each answered before the next goes), then holds everything until `release()`.
 * `stopped` resolves when the holding started (the operation waits at unit k+1) or never, when
 * the operation ended first: race it against the operation.
 */
export function splitter(client: Redis | Cluster, label = 'split') {
  let budget = Number.POSITIVE_INFINITY;
  let held: Unit[] = [];
  let chain: Promise<void> = Promise.resolve();
  let onStop: (() => void) | null = null;
  const passed: string[][] = [];
  const restore = intercept(client, label, (unit) => {
    if (budget > 0) {
      budget--;
      passed.push(unit.names);
      // one at a time, in order: the next unit goes once Redis answered the previous one
      chain = chain.then(() => unit.send());
      return;
    }
    held.push(unit);
    if (held.length === 1) void chain.then(() => onStop?.());
  });
  return {
    /** Units sent so far (command names). */
    passed,
    stopAfter(k: number): Promise<void> {
      budget = k;
      held = [];
      return new Promise<void>((resolve) => {
        onStop = resolve;
      });
    },
    /**
     * Lets `n` more units through (the held ones first), then holds again; resolves when the next
     * unit is held (never, when the operation ends first: race it against the operation).
     */
    async more(n: number): Promise<void> {
      const units = held.splice(0, n);
      budget = n - units.length;
      for (const u of units) {
        passed.push(u.names);
        chain = chain.then(() => u.send());
      }
      const stopped = new Promise<void>((resolve) => {
        onStop = resolve;
      });
      await chain;
      if (held.length > 0) return;
      return stopped;
    },
    /** Sends what was held, and everything after it. */
    async release(): Promise<void> {
      budget = Number.POSITIVE_INFINITY;
      const units = held;
      held = [];
      for (const u of units) {
        passed.push(u.names);
        chain = chain.then(() => u.send());
      }
      await chain;
    },
    restore,
  };
}

/**
 * Runs `op` stopped after each of its units in turn, with `between` run to completion in the
 * gap, and checks the outcome each time: every interleaving of `between` inside `op` at a unit
 * boundary. `setup` prepares a fresh round (fresh ids) and returns what op, between and check use.
 * Returns how many split points there were (op's unit count + 1).
 */
export async function everySplit<T>(
  client: Redis | Cluster,
  round: {
    setup: () => Promise<T>;
    op: (t: T) => Promise<unknown>;
    between: (t: T) => Promise<unknown>;
    check: (t: T, at: number, passed: string[][]) => Promise<void>;
  },
  maxPoints = 40,
): Promise<number> {
  const gate = splitter(client);
  try {
    for (let k = 0; k < maxPoints; k++) {
      const t = await round.setup();
      const stopped = gate.stopAfter(k);
      const op = round.op(t);
      const outcome = await Promise.race([stopped.then(() => 'stopped' as const), op.then(() => 'done' as const)]);
      await round.between(t);
      await gate.release();
      await op;
      await round.check(t, k, gate.passed.splice(0));
      if (outcome === 'done') return k + 1;
    }
    throw new Error(`op still running after ${maxPoints} split points`);
  } finally {
    gate.restore();
  }
}
