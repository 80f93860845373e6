import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  port: number;
  url: string;
  /** Stops the server (SIGTERM, or SIGKILL with hard) and waits for the process to exit. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port, with the same data directory. */
  restart(): Promise<void>;
  /** Stops it for good and removes its data directory. */
  destroy(): Promise<void>;
  /** SIGSTOP (true) or SIGCONT (false): a server that keeps its sockets open but answers nothing. */
  pause(paused: boolean): void;
}

export function assertRedisServerInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error(
      'redis-server is not on PATH; the tests start their own. Install it: apt-get update && apt-get install -y redis-server',
    );
  }
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** One raw PING over TCP: true when the server answers at all (+PONG, or -NOAUTH with requirepass). */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(/^(\+PONG|-NOAUTH)/.test(d.toString())));
  });
}

/**
 * Polls PING until the server answers (a readiness check, not a fixed sleep); `gone` says the
 * process being waited for exited (it could not listen), which ends the wait at once.
 */
export async function waitForRedis(port: number, timeoutMs = 10_000, gone = () => false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pingOnce(port))) {
    if (gone()) throw new Error(`redis-server on port ${port} exited before it answered`);
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not become ready in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Something else took the port after freePort() found it free (our server could not listen). */
class PortTakenError extends Error {
  constructor(port: number) {
    super(`port ${port} was taken before redis-server could listen on it`);
  }
}

/** The process id of the server answering on a port (INFO server). */
async function serverPid(port: number, password: string | undefined): Promise<number> {
  const probe = new Redis(port, '127.0.0.1', {
    ...(password ? { password } : {}),
    lazyConnect: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await probe.connect();
    return Number(/process_id:(\d+)/.exec(await probe.info('server'))?.[1]);
  } finally {
    probe.disconnect();
  }
}

/**
 * Starts a private redis-server on a free loopback port, with no persistence unless args ask for
 * it. A port taken between freePort() and the server's listen (by another test's process) is
 * noticed, also when the PONG came from that other process, and a new port tried.
 */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisServerOn(await freePort(), extraArgs);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt === 3) throw err;
    }
  }
}

async function startRedisServerOn(port: number, extraArgs: string[]): Promise<RedisServer> {
  assertRedisServerInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'redisession-test-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    ...extraArgs,
  ];
  let proc: ChildProcess;
  let exited: Promise<void>;
  const password = extraArgs.includes('--requirepass') ? extraArgs[extraArgs.indexOf('--requirepass') + 1] : undefined;
  const launch = async () => {
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // the end of what the server printed, for the error when it does not start (always drained)
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const gone = () => child.exitCode !== null || child.signalCode !== null;
    try {
      await waitForRedis(port, 10_000, gone);
      // a PONG may come from whoever took the port while ours fails to listen: ask who answered
      if ((await serverPid(port, password)) !== child.pid) {
        throw new PortTakenError(port);
      }
    } catch (err) {
      child.kill('SIGKILL');
      await exit;
      if (err instanceof PortTakenError || /Address already in use/i.test(output)) throw new PortTakenError(port);
      throw new Error(`${(err as Error).message}; redis-server said:\n${output}`);
    }
    proc = child;
    exited = exit;
  };
  try {
    await launch();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stop = async (hard = false) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: launch,
    pause: (paused) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(paused ? 'SIGSTOP' : 'SIGCONT');
    },
    destroy: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGCONT');
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
