import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import { openCleanupQueue } from 'redisession-worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';

const env = { REDIS_URL: '', QUEUE_NAME: `q-${randomBytes(4).toString('hex')}` };
let cleanup: ReturnType<typeof openCleanupQueue>;
let server: Server;
let base: string;

beforeAll(async () => {
  assertBuilt();
  env.REDIS_URL = redisUrl();
  cleanup = openCleanupQueue({ env });
  // the README's snippet, as a team that already runs bull-board would mount it
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/queues');
  createBullBoard({ queues: [new BullMQAdapter(cleanup.queue)], serverAdapter });
  const app = express();
  app.use('/queues', serverAdapter.getRouter());
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/queues`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await cleanup.queue.obliterate({ force: true });
  await cleanup.close();
});

describe('redisession-worker for a bull-board dashboard', () => {
  it('opens the queue the CLI and workers use, with their name and prefix', async () => {
    expect(cleanup).toMatchObject({ name: env.QUEUE_NAME, prefix: '{redisession}' });
    const asked = await runCli(['cleanup', '--json', '--dry-run'], env); // no worker: the request waits
    expect(asked.code).toBe(0);
    const { requestId } = JSON.parse(asked.stdout) as { requestId: string };
    const waiting = await cleanup.queue.getWaiting();
    // the request names its store (the shell's SESSION_PREFIX; no manifest there yet)
    expect(waiting.map((j) => [j.id, j.name, j.data])).toEqual([
      [requestId, 'sweep', { origin: 'cli', dryRun: true, store: { prefix: 'rs:', id: null } }],
    ]);

    // the mounted dashboard lists our queue and its waiting sweep request
    const res = await fetch(`${base}/api/queues?activeQueue=${env.QUEUE_NAME}&status=waiting&page=1&jobsPerPage=10`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      queues: Array<{ name: string; counts: Record<string, number>; jobs: Array<{ id: string; name: string }> }>;
    };
    const ours = body.queues.find((q) => q.name === env.QUEUE_NAME);
    expect(ours?.counts.waiting).toBe(1);
    expect(ours?.jobs.map((j) => [j.id, j.name])).toEqual([[requestId, 'sweep']]);
    expect((await fetch(base)).status).toBe(200); // the UI page itself
  });

  it('rejects a bad environment as the worker does', () => {
    expect(() => openCleanupQueue({ env: { QUEUE_NAME: 'has spaces' } })).toThrow(/QUEUE_NAME/);
  });
});
