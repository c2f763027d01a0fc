// Durations in settings: "250ms", "30s", "5m", "1h30m" (Go style) to milliseconds, and back for messages.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** A duration as settings accept it: a bare number of milliseconds or Go style ("1h30m", "1.5s"). */
export const DURATION_PATTERN = "^(\\d+|(\\d+(\\.\\d+)?(ms|s|m|h))+)$";
const DURATION = new RegExp(DURATION_PATTERN);

/**
 * Parses a Go-style duration ("250ms", "30s", "5m", "1h30m", "1.5s") or a bare number of
 * milliseconds ("1500") into milliseconds (rounded); undefined if `text` is neither.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!DURATION.test(s)) return undefined;
  if (/^\d+$/.test(s)) return Number(s);
  let total = 0;
  for (const [, num, unit] of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(num) * (UNIT_MS[unit ?? "ms"] ?? 1);
  return Math.round(total);
}

/** Renders milliseconds in the largest unit that divides them exactly ("5m", "1500ms"). */
export function formatDuration(ms: number): string {
  for (const unit of ["h", "m", "s"] as const) {
    const size = UNIT_MS[unit] ?? 1;
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
