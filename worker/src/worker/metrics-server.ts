import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RedisClient } from 'redisession';
import type { WorkerConfig } from './config.js';
import type { Logger } from './logger.js';
import type { MetricsSources, WorkerMetrics } from './metrics.js';
import { withTimeout } from './timeout.js';

export interface Health {
  /** ok; paused: all is well but the queue is paused, so nothing runs; unhealthy otherwise. */
  status: 'ok' | 'paused' | 'unhealthy';
  /** Per connection: "ready" when it answered PING in time, else its state or "not answering". */
  redis: { queue: string; sessions: string };
  worker: { running: boolean; paused: boolean; closing: boolean };
  /** Paused for every worker (queue.pause(), a dashboard's pause button); null when it cannot be read. */
  queue: { paused: boolean | null };
}

/** A probe must answer quickly even when Redis does not: a frozen server counts as down. */
const PING_TIMEOUT_MS = 1000;

async function probe(client: RedisClient): Promise<string> {
  if (client.status !== 'ready') return client.status;
  try {
    await withTimeout(client.ping(), PING_TIMEOUT_MS);
    return 'ready';
  } catch {
    return 'not answering';
  }
}

/** Healthy: both Redis connections answer, the BullMQ worker is taking jobs and the queue is not paused. */
export async function health({ worker, queue, connections }: MetricsSources): Promise<Health> {
  const [q, sessions] = await Promise.all([probe(connections.queue), probe(connections.sessions)]);
  const paused = q === 'ready' ? await withTimeout(queue.isPaused(), PING_TIMEOUT_MS).catch(() => null) : null;
  const state = { running: worker.isRunning(), paused: worker.isPaused(), closing: worker.closing !== undefined };
  const up = q === 'ready' && sessions === 'ready' && state.running && !state.paused && !state.closing;
  return {
    status: !up ? 'unhealthy' : paused ? 'paused' : 'ok',
    redis: { queue: q, sessions },
    worker: state,
    queue: { paused },
  };
}

export interface MetricsServer {
  /** The port actually bound (useful when 0 asked for any free one). */
  port: number;
  /** From now on the routes describe the running worker; until then they answer 503 "starting". */
  attach(sources: MetricsSources, metrics: WorkerMetrics): void;
  close(): Promise<void>;
}

/**
 * GET /metrics (Prometheus text format) and GET /healthz (200 or 503, JSON) on node:http: two
 * routes do not need a framework. Bound first thing at start, before anything touches the queue,
 * so a port already taken stops the worker before it takes a job; /healthz answers 503 "starting"
 * (with the state of both Redis connections) until the worker runs.
 */
export async function startMetricsServer(
  config: WorkerConfig['metrics'] & { port: number },
  connections: MetricsSources['connections'],
  logger: Logger,
): Promise<MetricsServer> {
  let running: { sources: MetricsSources; metrics: WorkerMetrics } | null = null;
  const json = (res: ServerResponse, code: number, body: object) =>
    res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics' && !running) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('starting: the worker is not running yet\n');
    } else if (path === '/metrics' && running) {
      const { registry } = running.metrics;
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => {
          logger.warn({ err: err.message }, 'metrics collection failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
        },
      );
    } else if (path === '/healthz' && !running) {
      void Promise.all([probe(connections.queue), probe(connections.sessions)]).then(([queue, sessions]) =>
        json(res, 503, { status: 'starting', redis: { queue, sessions } }),
      );
    } else if (path === '/healthz' && running) {
      void health(running.sources).then((h) => json(res, h.status === 'ok' ? 200 : 503, h));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: config.host, port }, 'metrics and /healthz listening');
  return {
    port,
    attach(sources, metrics) {
      running = { sources, metrics };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
