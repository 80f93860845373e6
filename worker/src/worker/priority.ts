import { getPriority, setPriority } from 'node:os';
import type { Logger } from './logger.js';

/*
 * WORKER_NICE: the worker process gives up CPU to the processes it shares a machine with (the web
 * tier, Redis itself) by raising its own niceness once at start. A sweep is background work: on a
 * host where the cores are busy, a web request then waits less behind the sweeper's share of the
 * CPU (`npm run bench -- --only=sweep` has the rows), while on an idle or dedicated host nothing
 * changes. Only ever raised: a worker started at a higher niceness (`nice -n 15 pm2 start ...`)
 * keeps it, and no privilege is needed. On Linux this is the main thread's, which runs the sweep.
 */

/** Raises the process's niceness to `nice` unless it is already that high; returns the niceness it runs at. */
export function lowerPriority(nice: number, logger: Pick<Logger, 'warn'>): number {
  const current = getPriority();
  if (nice <= current) return current;
  try {
    setPriority(nice);
    return getPriority();
  } catch (err) {
    logger.warn(
      { err: (err as Error).message, nice },
      'WORKER_NICE: could not lower the process priority; runs as started',
    );
    return current;
  }
}
