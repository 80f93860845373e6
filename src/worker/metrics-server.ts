import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RedisClient } from '../redis/connections.js';
import type { WorkerConfig } from './config.js';
import type { Logger } from './logger.js';
import { type MetricsSources, type WorkerMetrics, withTimeout } from './metrics.js';

export interface Health {
  healthy: boolean;
  /** Per connection: "ready" when it answered PING in time, else its state or "not answering". */
  redis: { queue: string; sessions: string };
  worker: { running: boolean; paused: boolean; closing: boolean };
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

/** Healthy: both Redis connections answer and the BullMQ worker is taking jobs. */
export async function health({ worker, connections }: MetricsSources): Promise<Health> {
  const [queue, sessions] = await Promise.all([probe(connections.queue), probe(connections.sessions)]);
  const state = { running: worker.isRunning(), paused: worker.isPaused(), closing: worker.closing !== undefined };
  return {
    healthy: queue === 'ready' && sessions === 'ready' && state.running && !state.paused && !state.closing,
    redis: { queue, sessions },
    worker: state,
  };
}

export interface MetricsServer {
  /** The port actually bound (useful when 0 asked for any free one). */
  port: number;
  close(): Promise<void>;
}

/**
 * GET /metrics (Prometheus text format) and GET /healthz (200 or 503, JSON) on node:http: two
 * routes do not need a framework.
 */
export async function startMetricsServer(
  config: WorkerConfig['metrics'] & { port: number },
  sources: MetricsSources,
  metrics: WorkerMetrics,
  logger: Logger,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => {
          logger.warn({ err: err.message }, 'metrics collection failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
        },
      );
    } else if (path === '/healthz') {
      void health(sources).then((h) => {
        const body = JSON.stringify({ status: h.healthy ? 'ok' : 'unhealthy', redis: h.redis, worker: h.worker });
        res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(`${body}\n`);
      });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
