/**
 * Rows in force over a period, as every rate table keeps them: in force on `date` when effective_from <= date
 * and (no effective_to or date < effective_to); dates are YYYY-MM-DD strings, so they compare as text.
 */
export interface Dated {
  from: string;
  to?: string;
}

export function inForce(r: Dated, date: string): boolean {
  return r.from <= date && (r.to === undefined || date < r.to);
}

/** The row in force on date (the one starting latest, if several are). */
export function pick<T extends Dated>(rows: readonly T[] | undefined, date: string): T | undefined {
  let best: T | undefined;
  if (rows) for (const r of rows) if (inForce(r, date) && (!best || r.from > best.from)) best = r;
  return best;
}

/** Appends to the list of a key (the rows of a state, a ZIP, a place). */
export function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
