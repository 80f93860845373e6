/** The logging surface the library uses; a pino logger satisfies it. Silent unless one is given. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  /** Optional: what happens once in a store's life (its layout recorded) goes here when there is one. */
  info?(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Accepts anything with at least one of debug/warn/error (console, pino, a test spy). */
export function isLogger(value: unknown): value is Partial<Logger> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.warn === 'function' || typeof v.error === 'function' || typeof v.debug === 'function';
}

/** Binds the methods the logger has (pino's need `this`) and fills the rest with no-ops. */
export function toLogger(value: Partial<Logger>): Logger {
  const pick = (m: keyof Logger) =>
    typeof value[m] === 'function' ? (value[m] as NonNullable<Logger[typeof m]>).bind(value) : noop;
  return { debug: pick('debug'), info: pick('info'), warn: pick('warn'), error: pick('error') };
}
