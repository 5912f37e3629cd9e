import type { CursorFormatName } from '../spec/types.ts';

export type CursorFormat = CursorFormatName;

/**
 * A record's change time as epoch milliseconds, read per the stream's cursor format, so cursors compare
 * as instants ("2024-01-02T00:00:00+01:00" is before "2024-01-01T23:30:00Z"), never as strings.
 * Undefined when the value is missing or unreadable.
 */
export function cursorInstant(value: unknown, format: CursorFormat = 'iso8601'): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let n: number;
  if (typeof value === 'number') n = numeric(value, format);
  else if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) n = numeric(Number(value), format);
  else if (typeof value === 'string') n = Date.parse(format === 'date' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  else return undefined;
  return Number.isFinite(n) ? Math.floor(n) : undefined;
}

function numeric(v: number, format: CursorFormat): number {
  if (format === 'unix_seconds') return v * 1000;
  if (format === 'unix_ms') return v;
  // A number under an ISO/date format: take it as seconds or milliseconds by magnitude.
  return Math.abs(v) < 1e11 ? v * 1000 : v;
}

/** The instant as the API expects it in the incremental parameter and `incremental.since`. */
export function formatCursor(ms: number, format: CursorFormat = 'iso8601'): string {
  switch (format) {
    case 'unix_seconds':
      return String(Math.floor(ms / 1000));
    case 'unix_ms':
      return String(ms);
    case 'date':
      return new Date(ms).toISOString().slice(0, 10);
    case 'iso8601_seconds':
      // Truncated to the second: a `>` filter then re-reads the cursor's own second rather than skip part of it.
      return new Date(ms).toISOString().slice(0, 19) + 'Z';
    default:
      return new Date(ms).toISOString();
  }
}

/**
 * Whether a record changed after `sinceMs` (filter-after-reading). Dates have day precision, so a record
 * dated the cursor's day is kept (re-reading it is harmless, missing it is not).
 */
export function changedSince(instant: number | undefined, sinceMs: number, format: CursorFormat = 'iso8601'): boolean {
  if (instant === undefined) return true;
  return format === 'date' ? instant >= sinceMs - (sinceMs % 86_400_000) : instant > sinceMs;
}
