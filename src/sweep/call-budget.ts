/*
 * How much one bucket_scan.lua call takes on. A script blocks the whole server while it runs, so a
 * web request that arrives meanwhile waits for the rest of it: the call's length is the latency a
 * sweep adds to requests. Fixed numbers of buckets or fields make that length depend on the data
 * (15 fields a bucket at 1M sessions, 1 at 65k, 500 in a big bucket) and on the server's speed.
 * So each call reports how long it ran (by the server's clock, round trip excluded) and the next one
 * is sized to take about `targetUs`: a field budget (the script starts no bucket past it) and the
 * number of buckets handed over, both from the rates seen so far.
 */

/** Default Redis time per sweep script call, in µs (the `callBudgetUs` sweep option, CLEANUP_CALL_US). */
export const DEFAULT_CALL_BUDGET_US = 100;
/** Accepted range for the target. */
export const CALL_BUDGET_US_LIMITS = [10, 100_000] as const;

const MIN_FIELDS = 8;
const MAX_FIELDS = 100_000;
/** Most buckets handed to one call (they are all sent, used or not). */
export const MAX_BUCKETS_PER_CALL = 64;
/** Weight of the newest call in the running rates: follows a change within a few calls, shrugs off one slow call. */
const NEWEST = 0.3;

export class CallBudget {
  /** Budget units (1 per bucket + 1 per field, as bucket_scan.lua counts them) per µs of script time. */
  private unitsPerUs: number | null = null;
  /** Budget units per bucket, on average. */
  private unitsPerBucket: number | null = null;

  constructor(
    readonly targetUs: number = DEFAULT_CALL_BUDGET_US,
    /** Before any call has been timed: a modest first call. */
    private readonly firstFields = 32,
  ) {}

  /** Field budget for the next call: it starts no further bucket once it has looked at this many. */
  get fields(): number {
    if (this.unitsPerUs === null) return this.firstFields;
    return Math.round(Math.min(MAX_FIELDS, Math.max(MIN_FIELDS, this.unitsPerUs * this.targetUs)));
  }

  /** Buckets to hand the next call: enough to spend its budget, and one more (it may stop early). */
  get buckets(): number {
    const perBucket = this.unitsPerBucket ?? 1;
    return Math.min(MAX_BUCKETS_PER_CALL, Math.max(1, Math.ceil(this.fields / perBucket) + 1));
  }

  /** A call looked at `units` (buckets + fields) in `buckets` buckets in `elapsedUs` of server time. */
  record(units: number, buckets: number, elapsedUs: number): void {
    if (!(units > 0) || !(buckets > 0)) return;
    // TIME has µs resolution: a call under 1 µs counts as 1 µs
    const rate = units / Math.max(1, elapsedUs);
    const perBucket = units / buckets;
    this.unitsPerUs = this.unitsPerUs === null ? rate : this.unitsPerUs + NEWEST * (rate - this.unitsPerUs);
    this.unitsPerBucket =
      this.unitsPerBucket === null ? perBucket : this.unitsPerBucket + NEWEST * (perBucket - this.unitsPerBucket);
  }
}
