import { type Queue, Worker } from 'bullmq';
import { LayoutMismatchError, type RedisClient } from 'redisession';
import { quietQuit } from 'redisession/internal';
import type { WorkerConfig } from './config.js';
import type { Logger } from './logger.js';
import type { MetricsSources, WorkerMetrics } from './metrics.js';
import type { MetricsServer } from './metrics-server.js';
import { createProcessor } from './processors.js';
import { JOB, openFlowProducer, openQueue, queueConnection } from './queue.js';
import { describeTarget, sessionClient } from './redis-target.js';
import { allReady, isConnectionError, type RedisOrigin, redisOrigins, watchRedis } from './redis-watch.js';
import { removeSchedule, scheduleFromConfig, scheduleRemovedAt, showSchedule, upsertSchedule } from './schedule.js';
import {
  describeServed,
  noteDifferences,
  resolveStore,
  type ServedStore,
  type StoreRef,
  servedStore,
  storeRef,
  workerName,
} from './served-store.js';
import { withTimeout } from './timeout.js';

export interface RunningWorker {
  worker: Worker;
  /** Stops taking jobs, lets the batch under way finish (its shard is parked to resume), closes connections. */
  close(): Promise<void>;
}

export interface RunOptions {
  /** Where each Redis address came from (REDIS_URL in .env, ...), for the lines said while one is down. */
  origins?: { sessions: RedisOrigin; queue: RedisOrigin };
  /** The niceness the process runs at (WORKER_NICE, applied by `redisession worker`), for the "worker ready" line. */
  nice?: number;
}

/** A startup check waits this long for Redis to answer, then says so and goes on. */
const CHECK_TIMEOUT_MS = 5000;

/** BullMQ's keys must never be evicted: say so at start when Redis could evict them. */
async function checkEvictionPolicy(connection: RedisClient, logger: Logger): Promise<void> {
  try {
    const reply = (await withTimeout(connection.config('GET', 'maxmemory-policy'), CHECK_TIMEOUT_MS)) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      logger.warn(
        { maxmemoryPolicy: policy },
        'maxmemory-policy is not noeviction: Redis may evict BullMQ keys and lose jobs; set maxmemory-policy noeviction',
      );
    }
  } catch (err) {
    const message = (err as Error).message;
    if (/^no answer in/.test(message)) {
      logger.warn(
        { timeoutMs: CHECK_TIMEOUT_MS },
        'Redis did not answer CONFIG GET maxmemory-policy in 5 s (overloaded or frozen?): starting without that check',
      );
    } else logger.debug({ err: message }, 'cannot read maxmemory-policy (CONFIG not allowed?)');
  }
}

/** One watcher per Redis: sessions and queue on the same server are one Redis to report on. */
function watchConnections(
  config: WorkerConfig,
  clients: { queue: RedisClient; sessions: RedisClient },
  origins: NonNullable<RunOptions['origins']>,
  logger: Logger,
): Array<{ stop(): void }> {
  const every = config.log.redisDownEvery;
  if (config.queueRedis === config.redis) {
    return [
      watchRedis(
        [clients.queue, clients.sessions],
        { name: 'Redis', target: config.redis, origin: origins.sessions },
        logger,
        every,
      ),
    ];
  }
  return [
    watchRedis(
      [clients.sessions],
      { name: "the sessions' Redis", target: config.redis, origin: origins.sessions },
      logger,
      every,
    ),
    watchRedis(
      [clients.queue],
      { name: "the queue's Redis", target: config.queueRedis, origin: origins.queue },
      logger,
      every,
    ),
  ];
}

/**
 * After a reconnect: a Redis restarted without persistence has lost the scheduler with everything
 * else, and nothing would put it back until a worker restarts. Only when it is missing, so a
 * schedule changed with `redisession schedule` since this worker started is kept.
 */
async function restoreSchedule(queue: Queue, config: WorkerConfig, logger: Logger): Promise<void> {
  try {
    if (await showSchedule(queue)) return;
    const removedAt = await scheduleRemovedAt(queue);
    if (removedAt) {
      logger.info(
        { removedAt },
        'sweep schedule removed on purpose (redisession schedule --remove or CLEANUP_SCHEDULE=off): not restored after the reconnect',
      );
      return;
    }
    await upsertSchedule(queue, scheduleFromConfig(config), scheduleStore(config));
    logger.warn(
      { every: config.schedule.every, cron: config.schedule.cron, tz: config.schedule.tz },
      'sweep schedule was missing after a reconnect (Redis restarted without persistence?): restored',
    );
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'cannot check the sweep schedule after a reconnect');
  }
}

/** A schedule names its store by prefix: the manifest may be recorded after the schedule is set. */
const scheduleStore = (config: WorkerConfig): StoreRef => ({ prefix: config.session.prefix, id: null });

/**
 * The store this worker serves, before anything touches the queue: its layout from the manifest
 * (each difference with SESSION_* logged), or from SESSION_* while it has none. A SESSION_ID_SECRET
 * that contradicts the manifest stops the worker: migrations would store sessions under keys the web
 * tier never looks up. An unreachable Redis is not fatal here: each request reads the manifest again.
 */
async function storeAtStart(config: WorkerConfig, sessions: RedisClient, logger: Logger): Promise<ServedStore> {
  let served: ServedStore;
  try {
    served = await resolveStore(config, sessions);
  } catch (err) {
    if (err instanceof LayoutMismatchError) throw err;
    logger.warn(
      { err: (err as Error).message },
      "cannot read the store's manifest yet: SESSION_* for now; every request reads it again",
    );
    return servedStore(config, null);
  }
  if (served.secretProblem) {
    throw new Error(
      `${served.secretProblem}: set the web tier's idSecret as SESSION_ID_SECRET, or unset it (sweeps need no secret)`,
    );
  }
  noteDifferences(logger, served);
  logger.info(
    { prefix: served.prefix, manifest: served.manifest?.id ?? null, layout: describeServed(served) },
    served.manifest
      ? "store layout read from the store's manifest"
      : 'no manifest under the prefix yet (the web tier records one on its first call): layout from SESSION_*',
  );
  return served;
}

/**
 * Runs the startup checks, then upserts the schedule and starts processing sweep jobs. Nothing
 * touches the queue (no job taken, no schedule written) until every check has passed: a worker
 * that cannot start must not take a job and leave it to stall.
 */
export async function runWorker(config: WorkerConfig, logger: Logger, opts: RunOptions = {}): Promise<RunningWorker> {
  const connection = queueConnection(config);
  const sessions = sessionClient(config.redis);
  const watches = watchConnections(
    config,
    { queue: connection, sessions },
    opts.origins ?? redisOrigins(config, process.env),
    logger,
  );
  let server: MetricsServer | null = null;
  let served: ServedStore;
  try {
    // 1. the metrics port (fails fast, before waiting for anything); /healthz says "starting" meanwhile
    if (config.metrics.port !== null) {
      const { startMetricsServer } = await import('./metrics-server.js');
      try {
        server = await startMetricsServer(
          { ...config.metrics, port: config.metrics.port },
          { queue: connection, sessions },
          logger,
        );
      } catch (err) {
        throw new Error(
          `cannot serve metrics on ${config.metrics.host}:${config.metrics.port} (METRICS_HOST/METRICS_PORT): ${(err as Error).message}`,
        );
      }
    }
    // 2. both Redis connections up (for ever if need be: right under PM2; watchRedis says why meanwhile)
    await allReady([connection, sessions]);
    // 3. what Redis must be like for BullMQ (a warning, never a reason to stop)
    await checkEvictionPolicy(connection, logger);
    // 4. the store this worker serves (its manifest): a contradicting SESSION_ID_SECRET stops it here
    served = await storeAtStart(config, sessions, logger);
  } catch (err) {
    for (const w of watches) w.stop();
    await (server as MetricsServer | null)?.close(); // (assigned in the try: TS cannot see it)
    await Promise.all([quietQuit(connection), quietQuit(sessions)]);
    throw err;
  }

  // From here on the queue is touched.
  const queue = openQueue(config, connection);
  const flows = openFlowProducer(config, connection);
  if (served.layout.mode === 'string') {
    logger.warn('the store is in string mode: Redis expires its sessions itself; sweeps will find nothing to do');
  }
  if (config.schedule.enabled) {
    await upsertSchedule(queue, scheduleFromConfig(config), scheduleStore(config));
    logger.info(
      { every: config.schedule.every, cron: config.schedule.cron, tz: config.schedule.tz },
      'sweep schedule upserted',
    );
    connection.on('ready', () => void restoreSchedule(queue, config, logger));
  } else if (await removeSchedule(queue)) {
    logger.info('CLEANUP_SCHEDULE=off: removed the repeatable sweep');
  }

  const worker = new Worker(config.queue.name, createProcessor({ config, sessions, queue, flows, logger }), {
    connection,
    prefix: config.queue.prefix,
    name: workerName(storeRef(served)), // CLIENT LIST then says whose worker this is (doctor, cleanup)
    concurrency: config.worker.concurrency,
    lockDuration: config.worker.lockDuration,
    stalledInterval: config.worker.stalledInterval,
    maxStalledCount: 2,
  });
  const sources: MetricsSources = { worker, queue, connections: { queue: connection, sessions } };
  // prom-client is loaded only when metrics are on: every CLI command imports this file
  const metrics: WorkerMetrics | null = server ? (await import('./metrics.js')).createWorkerMetrics(sources) : null;
  worker.on('completed', (job, result) => metrics?.jobCompleted(job, result));
  worker.on('failed', (job, err) => {
    const final = job ? job.attemptsMade >= (job.opts.attempts ?? 1) : true;
    if (job) metrics?.jobFailed(job.name, final);
    const progress = job?.progress as { bucketsDone?: number; scanned?: number; deleted?: number } | undefined;
    logger.error(
      {
        sweepId: job?.parent?.id,
        jobId: job?.id,
        name: job?.name,
        attempt: job?.attemptsMade,
        final,
        err: err.message,
      },
      final ? 'job failed for good' : 'job failed, will retry',
    );
    if (final && job?.name === JOB.shard) {
      logger.error(
        {
          sweepId: job.parent?.id,
          bucketsDone: progress?.bucketsDone,
          scanned: progress?.scanned,
          deleted: progress?.deleted,
        },
        'sweep failed',
      );
    }
  });
  worker.on('stalled', (jobId) => logger.warn({ jobId }, 'job stalled (its worker died?): it will run again'));
  // without a listener, an 'error' of the queue or flow producer reaches stderr as a bare stack trace
  const onError = (source: string) => (err: Error) => {
    if (isConnectionError(err)) logger.debug({ err: err.message, source }, 'BullMQ connection error');
    else logger.error({ err: err.message }, `${source} error`);
  };
  worker.on('error', onError('worker'));
  queue.on('error', onError('queue'));
  flows.on('error', onError('flow producer'));
  await worker.waitUntilReady();
  if (server && metrics) server.attach(sources, metrics);
  logger.info(
    {
      queue: config.queue.name,
      queuePrefix: config.queue.prefix,
      redis: describeTarget(config.redis),
      sessionPrefix: served.prefix,
      mode: served.layout.mode,
      buckets: served.layout.buckets,
      layout: served.manifest ? 'manifest' : 'environment',
      concurrency: config.worker.concurrency,
      ...(opts.nice !== undefined ? { nice: opts.nice } : {}),
    },
    'worker ready',
  );

  return {
    worker,
    async close() {
      worker.cancelAllJobs('shutdown');
      await worker.close();
      await server?.close();
      await Promise.all([queue.close(), flows.close()]);
      for (const w of watches) w.stop();
      await Promise.all([quietQuit(connection), quietQuit(sessions)]);
    },
  };
}
