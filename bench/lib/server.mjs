// A private redis-server per measurement: a fresh used_memory baseline and no interference.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startRedis(extraArgs = []) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rs-bench-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const proc = spawn('redis-server', [...args, ...extraArgs], { stdio: 'ignore' });
  // a benchmark that crashes must not leave its server running
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);
  proc.once('exit', () => process.off('exit', kill));
  const client = new Redis({ port, host: '127.0.0.1', retryStrategy: (n) => (n > 50 ? null : 100) });
  client.on('error', () => {}); // refused until the server is up, and after it is stopped
  await client.ping();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client,
    async usedMemory() {
      const info = await client.info('memory');
      return Number(/used_memory:(\d+)/.exec(info)[1]);
    },
    async stop() {
      await client.quit().catch(() => {});
      proc.kill();
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
