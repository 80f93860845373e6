import cliProgress from 'cli-progress';
import type { SweepProgress } from 'redisession';

/** What a progress line shows: a sweep's counts (a migration's are put in the same words). */
export type Totals = Omit<SweepProgress, 'checkpoint'>;

/** Sums the latest progress of every shard, each read by `of` (a migration counts moves as `deleted`). */
export function sumShards<P>(
  latest: P[],
  expectedTotal: number | null,
  of: (p: P) => Omit<Totals, 'bucketsTotal'>,
): Totals {
  const t: Totals = { bucketsDone: 0, bucketsTotal: expectedTotal, scanned: 0, deleted: 0 };
  for (const p of latest) {
    const s = of(p);
    t.bucketsDone += s.bucketsDone;
    t.scanned += s.scanned;
    t.deleted += s.deleted;
  }
  return t;
}

export interface ProgressView {
  update(t: Totals): void;
  stop(): void;
}

/** Words of a progress line: a sweep counts buckets and deletions, a migration its own units and moves. */
export interface ProgressLabels {
  title: string;
  unit: string;
  counted: string;
}

const SWEEP_LABELS: ProgressLabels = { title: 'sweep', unit: 'buckets', counted: 'deleted' };

/** A live bar on a terminal; on a pipe or a log, at most one plain line a second. Both on stderr. */
export function progressView(labels: ProgressLabels = SWEEP_LABELS): ProgressView {
  const { title, unit, counted } = labels;
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `${title} [{bar}] {percentage}% | {value}/{total} ${unit} | scanned {scanned} | ${counted} {deleted}`,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(t) {
        const total = t.bucketsTotal ?? Math.max(t.bucketsDone, 1);
        if (!started) {
          bar.start(total, t.bucketsDone, { scanned: t.scanned, deleted: t.deleted });
          started = true;
        }
        bar.setTotal(total);
        bar.update(t.bucketsDone, { scanned: t.scanned, deleted: t.deleted });
      },
      stop: () => started && bar.stop(),
    };
  }
  let last = 0;
  let pending: Totals | null = null;
  const line = (t: Totals) =>
    process.stderr.write(
      `progress: ${t.bucketsDone}/${t.bucketsTotal ?? '?'} ${unit}, scanned ${t.scanned}, ${counted} ${t.deleted}\n`,
    );
  return {
    update(t) {
      pending = t;
      if (Date.now() - last >= 1000) {
        line(t);
        last = Date.now();
        pending = null;
      }
    },
    stop() {
      if (pending) line(pending);
    },
  };
}
