/** The logging surface the library uses; a pino logger satisfies it. Silent unless one is given. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const silentLogger: Logger = { debug: noop, warn: noop, error: noop };

export function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.warn === 'function' && typeof v.error === 'function' && typeof v.debug === 'function';
}
