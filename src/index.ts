export type { CompressionOption, CustomCompressor } from './codec/compressors.js';
export type { CustomSerializer, SerializerOption } from './codec/serializers.js';
export type { MigrateCheckpoint, MigrateOptions, MigrateResult } from './migrate/bulk.js';
export { runMigration } from './migrate/bulk.js';
export type { LegacyLayout, LegacyOptions } from './migrate/legacy.js';
export { coalesceWrites } from './redis/coalesce.js';
export type { ClusterConnection, ClusterNode, RedisClient, RedisConnection } from './redis/connections.js';
export { closeRedisConnections, configureRedis, getRedis } from './redis/connections.js';
export type { Durability } from './redis/durability.js';
export {
  ConfigError,
  CorruptValueError,
  DurabilityError,
  InvalidSessionIdError,
  RedisessionError,
  SessionEncodeError,
  UnknownConnectionError,
} from './store/errors.js';
export type { ListedSession } from './store/listing.js';
export type { Logger } from './store/logger.js';
export type { StoreLayout, StoreManifest } from './store/manifest.js';
export { LayoutMismatchError } from './store/manifest.js';
export type { IdlessSerializer, SessionStoreOptions, StorageModeName, TtlFunction } from './store/options.js';
export { DEFAULTS } from './store/options.js';
export type { SessionData, SessionStore, WriteOptions } from './store/session-store.js';
export { createSessionStore } from './store/session-store.js';
export { DEFAULT_GRACE_MS } from './sweep/bucket-scan.js';
export type { BucketRange, SweepStrategy } from './sweep/plan.js';
export { SWEEP_STRATEGIES, shardRanges } from './sweep/plan.js';
export type { SweepCheckpoint, SweepOptions, SweepProgress, SweepResult, SweepTarget } from './sweep/runner.js';
export { runSweep } from './sweep/runner.js';
export type { UserIdOf, UserSession } from './users/user-index.js';
