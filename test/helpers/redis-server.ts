import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

/** Polls PING until the server answers (a readiness check, not a fixed sleep). */
export async function waitForRedis(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pingOnce(port))) {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not become ready in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a private redis-server on a free loopback port, with no persistence unless args ask for it. */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  assertRedisServerInstalled();
  const port = await freePort();
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
  const launch = async () => {
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    await waitForRedis(port);
  };
  await launch();
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
