import type { CommandModule } from 'yargs';
import { SWEEP_STRATEGIES, type SweepStrategy } from '../sweep/plan.js';
import type { ShardProgress } from '../worker/processors.js';
import {
  connectQueue,
  defaultRequest,
  enqueueSweep,
  openFlowProducer,
  openQueueEvents,
  type SweepSummary,
} from '../worker/queue.js';
import { configFromEnv, definedOnly } from './config.js';
import { progressView, sumShards } from './progress.js';

interface CleanupArgs {
  strategy?: SweepStrategy;
  shards?: number;
  batch?: number;
  sample?: number;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
}

const positiveInt = (name: string) => (v: unknown) => {
  if (v === undefined) return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1, got ${JSON.stringify(v)}`);
  return n;
};

/** `redisession cleanup`: enqueue an ad-hoc sweep, and with --wait follow it to its summary. */
export const cleanupCommand: CommandModule<object, CleanupArgs> = {
  command: 'cleanup',
  describe: 'Enqueue a sweep of expired hash-mode sessions (run by the worker)',
  builder: (y) =>
    y
      .option('strategy', {
        choices: SWEEP_STRATEGIES,
        describe: 'full: every bucket; sample: N random; existing: SCAN',
      })
      .option('shards', {
        type: 'number',
        describe: 'parallel shard jobs (default CLEANUP_SHARDS)',
        coerce: positiveInt('shards'),
      })
      .option('batch', {
        type: 'number',
        describe: 'buckets per round trip (default CLEANUP_BATCH)',
        coerce: positiveInt('batch'),
      })
      .option('sample', {
        type: 'number',
        describe: 'buckets for --strategy sample (default CLEANUP_SAMPLE)',
        coerce: positiveInt('sample'),
      })
      .option('dry-run', { type: 'boolean', describe: 'count expired sessions, delete nothing' })
      .option('wait', { type: 'boolean', describe: 'follow the sweep and print its summary' })
      .option('json', { type: 'boolean', describe: 'print the result as one JSON object' }),
  handler: async (args) => {
    const config = configFromEnv();
    const req = {
      ...defaultRequest(config),
      ...definedOnly({
        strategy: args.strategy,
        shards: args.shards,
        batch: args.batch,
        sample: args.sample,
        dryRun: args.dryRun,
      }),
    };
    const connection = await connectQueue(config);
    const flows = openFlowProducer(config, connection);
    const events = args.wait ? openQueueEvents(config, connection) : null;
    try {
      await events?.waitUntilReady(); // listen before enqueueing, or early events are missed
      const node = await enqueueSweep(config, flows, req);
      const jobId = node.job.id as string;
      if (!events) {
        const queued = { jobId, shards: node.children?.length ?? 0, strategy: req.strategy, dryRun: req.dryRun };
        process.stdout.write(
          args.json ? `${JSON.stringify(queued)}\n` : `sweep ${jobId} queued: ${queued.shards} shards\n`,
        );
        return;
      }
      const shardIds = new Set((node.children ?? []).map((c) => c.job.id as string));
      const latest = new Map<string, ShardProgress>();
      const expected = req.strategy === 'full' ? config.session.buckets : req.strategy === 'sample' ? req.sample : null;
      const view = progressView();
      events.on('progress', ({ jobId: id, data }) => {
        if (!shardIds.has(id) || typeof data !== 'object' || data === null) return;
        latest.set(id, data as unknown as ShardProgress);
        view.update(sumShards(latest, expected));
      });
      let summary: SweepSummary;
      try {
        summary = (await node.job.waitUntilFinished(events)) as SweepSummary;
      } catch (err) {
        view.stop();
        const failed = { jobId, error: (err as Error).message };
        process.stdout.write(args.json ? `${JSON.stringify({ ...failed, failed: true })}\n` : '');
        process.stderr.write(`redisession: sweep ${jobId} failed: ${failed.error}\n`);
        process.exitCode = 1;
        return;
      }
      view.stop();
      if (args.json) process.stdout.write(`${JSON.stringify({ jobId, ...summary })}\n`);
      else {
        process.stdout.write(
          `sweep ${jobId} ${summary.dryRun ? '(dry run) ' : ''}done in ${summary.durationMs} ms: ` +
            `${summary.buckets} buckets, ${summary.scanned} fields scanned, ${summary.deleted} expired sessions ` +
            `${summary.dryRun ? 'found' : 'deleted'} (${summary.shards} shards)\n`,
        );
      }
    } finally {
      await events?.close();
      await flows.close();
      await connection.quit().catch(() => connection.disconnect());
    }
  },
};
