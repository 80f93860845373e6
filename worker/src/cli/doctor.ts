import { type Finding, quietQuit, type Severity, serverFindings, storeFindings } from 'redisession/internal';
import type { CommandModule } from 'yargs';
import { connectQueue, openQueue } from '../worker/queue.js';
import { queueFindings } from '../worker/queue-findings.js';
import { describeTarget, type RedisTarget } from '../worker/redis-target.js';
import { describeStore, type ServedStore, storeSummary } from '../worker/served-store.js';
import { storeLayoutFindings } from '../worker/store-findings.js';
import { configFromEnv, watchedSessionClient } from './config.js';

interface DoctorArgs {
  json?: boolean;
}

const unreachable = (check: string, target: RedisTarget, err: unknown): Finding => ({
  check,
  severity: 'error',
  message: `cannot reach Redis at ${describeTarget(target)}: ${(err as Error).message}`,
  fix: 'check REDIS_URL (or REDIS_CLUSTER_NODES / REDIS_SENTINELS) and QUEUE_REDIS_URL, that Redis is running, and the credentials',
});

const LABEL: Record<Severity, string> = { ok: 'ok', info: 'info', warn: 'WARN', error: 'ERROR' };

/** `redisession doctor`: checks the Redis and the queue the worker is configured for. */
export const doctorCommand: CommandModule<object, DoctorArgs> = {
  command: 'doctor',
  describe:
    'Check the Redis server(s), the session store and the cleanup queue the worker is configured for; print ' +
    'each finding with its fix. Exit 1 when a finding is an error, 0 with warnings only',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'print { ok, counts, findings } as one JSON object' }),
  handler: async (args) => {
    const config = configFromEnv();
    const shared = JSON.stringify(config.redis) === JSON.stringify(config.queueRedis);
    const findings: Finding[] = [];

    const { client: sessions, lastError } = watchedSessionClient(config.redis);
    const sessionsLabel = shared ? 'redis' : 'sessions-redis';
    let served: ServedStore | null = null;
    try {
      findings.push(...(await serverFindings(sessions, { label: sessionsLabel, holdsQueue: shared })));
      const layout = await storeLayoutFindings(config, sessions);
      findings.push(...layout.findings);
      served = layout.served;
      if (served?.layout.mode === 'hash') {
        const buckets = served.layout.buckets as number;
        const target = { client: sessions, prefix: Buffer.from(config.session.prefix), buckets };
        // the buckets the layout check's walk found: the prefix is walked once
        findings.push(...(await storeFindings(target, undefined, layout.survey?.found ?? undefined)));
      } else if (served) {
        findings.push({
          check: 'store.mode',
          severity: 'info',
          message: 'string mode: one key per session, expired by Redis; the listpack checks do not apply',
        });
      }
    } catch (err) {
      findings.push(unreachable(`${sessionsLabel}.connect`, config.redis, lastError() ?? err));
    } finally {
      await quietQuit(sessions);
    }

    try {
      const connection = await connectQueue(config);
      const queue = openQueue(config, connection);
      try {
        if (!shared) findings.push(...(await serverFindings(connection, { label: 'queue-redis', holdsQueue: true })));
        findings.push(...(await queueFindings(config, queue, served)));
      } finally {
        await queue.close();
        await quietQuit(connection);
      }
    } catch (err) {
      const message = (err as Error).message;
      findings.push({ ...unreachable('queue-redis.connect', config.queueRedis, err), message });
    }

    const counts = { ok: 0, info: 0, warn: 0, error: 0 } satisfies Record<Severity, number>;
    for (const f of findings) counts[f.severity]++;
    const ok = counts.error === 0;
    if (args.json) process.stdout.write(`${JSON.stringify({ ok, counts, findings })}\n`);
    else {
      const store = served
        ? `${describeStore(storeSummary(served))}, layout ${served.manifest ? 'from its manifest' : 'from SESSION_* (no manifest)'}`
        : `store ${JSON.stringify(config.session.prefix)}`;
      process.stdout.write(
        `redisession doctor: ${store}, sessions at ${describeTarget(config.redis)}; queue ${config.queue.name}` +
          `${shared ? '' : ` at ${describeTarget(config.queueRedis)}`}\n`,
      );
      const width = Math.max(...findings.map((f) => f.check.length));
      for (const f of findings) {
        process.stdout.write(`  ${LABEL[f.severity].padEnd(5)} ${f.check.padEnd(width)}  ${f.message}\n`);
        if (f.fix) process.stdout.write(`  ${''.padEnd(5)} ${''.padEnd(width)}  fix: ${f.fix}\n`);
      }
      process.stdout.write(
        `${counts.error} error(s), ${counts.warn} warning(s)${ok ? '' : ': fix the errors (exit status 1)'}\n`,
      );
    }
    if (!ok) process.exitCode = 1;
  },
};
