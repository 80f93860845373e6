const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** '15m', '30s', '1h', '250ms' or a bare number of milliseconds -> ms; null when unreadable. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) return null;
  const ms = Number(m[1]) * (UNITS[(m[2] ?? 'ms').toLowerCase()] as number);
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** The inverse for messages and logs: 900000 -> '15m'. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
