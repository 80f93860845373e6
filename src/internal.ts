/*
 * `redisession/internal`: the library's internals that redisession-worker (the cleanup worker and
 * the `redisession` CLI) is built on, in one place, so the worker package imports only
 * `redisession` and `redisession/internal`. For redisession-worker of the same version only: no
 * semver promise, anything here may change in any release. Like every web-tier entry point it
 * never reaches bullmq, pino or yargs (test/unit/boundaries.test.ts).
 */

export type { Finding, Severity } from './inspect/doctor.js';
export { serverFindings, storeFindings } from './inspect/doctor.js';
export { BucketsFound, hashStats } from './inspect/stats.js';
export { bucketIndexOf, bucketWidth, MAX_BUCKETS } from './keys/buckets.js';
export { isDefaultKey } from './keys/key-scheme.js';
export { isManifestKey, manifestKey, shownKey } from './keys/manifest-key.js';
export { LEGACY_LAYOUTS } from './migrate/legacy.js';
export { assertClient, createClusterClient, createRedisClient, hasHashTag, quietQuit } from './redis/connections.js';
export { scanPrefixPages } from './redis/scan.js';
export { withOrigin } from './store/layout-guard.js';
export { describeLayout, idSecretFingerprint, readManifest } from './store/manifest.js';
export { definedOnly, resolveOptions } from './store/options.js';
export { CALL_BUDGET_US_LIMITS, DEFAULT_CALL_BUDGET_US } from './sweep/call-budget.js';
export { sampleIndexes } from './sweep/plan.js';
export type { SweepCounts } from './sweep/runner.js';
export { pruneUserIndexes } from './users/user-index.js';
