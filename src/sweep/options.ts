import { ConfigError } from '../store/errors.js';
import { DEFAULT_GRACE_MS } from './bucket-scan.js';
import { CALL_BUDGET_US_LIMITS, DEFAULT_CALL_BUDGET_US } from './call-budget.js';
import { SWEEP_STRATEGIES } from './plan.js';
import type { SweepOptions } from './runner.js';

/** Spellings people reach for, mapped to ours: `grace` is in seconds, like the store's `ttl`. */
const ALIASES = { grace: 'graceMs', batchSize: 'batch', sampleSize: 'sample', dry: 'dryRun' } as const;

const KNOWN = [
  'strategy',
  'sample',
  'batch',
  'graceMs',
  'callBudgetUs',
  'dryRun',
  'range',
  'indexes',
  'checkpoint',
  'onProgress',
  'signal',
  ...Object.keys(ALIASES),
];

function bad(name: string, value: unknown, accepted: string): never {
  throw new ConfigError(`sweep option "${name}": got ${JSON.stringify(value) ?? String(value)}; expected ${accepted}`);
}

function positiveInt(name: string, value: unknown, max: number, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    bad(name, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

/** Validates sweep options once, with messages naming the option; unknown options are refused. */
export function resolveSweepOptions(input: SweepOptions = {}): SweepOptions {
  const unknown = Object.entries(input).filter(([k, v]) => !KNOWN.includes(k) && v !== undefined);
  if (unknown.length > 0)
    throw new ConfigError(`unknown sweep option "${unknown[0]?.[0]}"; known: ${KNOWN.join(', ')}`);
  const strategy = input.strategy;
  if (strategy !== undefined && !SWEEP_STRATEGIES.includes(strategy))
    bad('strategy', strategy, SWEEP_STRATEGIES.join(', '));
  const grace = input.graceMs ?? (typeof input.grace === 'number' ? input.grace * 1000 : input.grace);
  if (grace !== undefined && (typeof grace !== 'number' || !(grace >= 0))) bad('graceMs', grace, 'a number of ms >= 0');
  const dryRun = input.dryRun ?? input.dry;
  if (dryRun !== undefined && typeof dryRun !== 'boolean') bad('dryRun', dryRun, 'true or false');
  if (input.onProgress !== undefined && typeof input.onProgress !== 'function')
    bad('onProgress', 'not a function', 'a function');
  // a sample is drawn anew on every run: a position in another draw means nothing
  if (strategy === 'sample' && !input.indexes && typeof input.checkpoint?.position === 'number')
    throw new ConfigError('resuming a sample sweep from a checkpoint needs the `indexes` it sampled');
  const { grace: _g, batchSize: _b, sampleSize: _s, dry: _d, ...rest } = input;
  return {
    ...rest,
    ...(strategy !== undefined ? { strategy } : {}),
    sample: positiveInt('sample', input.sample ?? input.sampleSize, 2 ** 24) ?? 100,
    batch: positiveInt('batch', input.batch ?? input.batchSize, 10_000) ?? 100,
    graceMs: (grace as number | undefined) ?? DEFAULT_GRACE_MS,
    callBudgetUs:
      positiveInt('callBudgetUs', input.callBudgetUs, CALL_BUDGET_US_LIMITS[1], CALL_BUDGET_US_LIMITS[0]) ??
      DEFAULT_CALL_BUDGET_US,
    dryRun: dryRun === true,
  };
}
