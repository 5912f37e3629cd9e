/**
 * A readable structural diff: one line per differing path, e.g.
 *   records[0].address.state: expected "TX", got "CA"
 */
export function diffValues(expected: unknown, actual: unknown, path = ''): string[] {
  if (Object.is(expected, actual)) return [];
  const label = path || '(value)';
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const out: string[] = [];
    const n = Math.max(expected.length, actual.length);
    for (let i = 0; i < n; i++) {
      if (i >= actual.length) out.push(`${path}[${i}]: expected ${show(expected[i])}, missing`);
      else if (i >= expected.length) out.push(`${path}[${i}]: unexpected ${show(actual[i])}`);
      else out.push(...diffValues(expected[i], actual[i], `${path}[${i}]`));
    }
    return out;
  }
  if (isObject(expected) && isObject(actual)) {
    const out: string[] = [];
    for (const k of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in actual)) out.push(`${p}: expected ${show(expected[k])}, missing`);
      else if (!(k in expected)) out.push(`${p}: unexpected ${show(actual[k])}`);
      else out.push(...diffValues(expected[k], actual[k], p));
    }
    return out;
  }
  return [`${label}: expected ${show(expected)}, got ${show(actual)}`];
}

/** Like diffValues, but only the fields `expected` lists are compared (for request expectations). */
export function diffSubset(expected: Record<string, unknown>, actual: Record<string, unknown>, path: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(expected)) {
    const p = `${path}.${k}`;
    if (k === 'query' || k === 'headers') {
      const a = (actual[k] ?? {}) as Record<string, unknown>;
      for (const [qk, qv] of Object.entries(v as Record<string, unknown>)) if (String(a[qk.toLowerCase()] ?? a[qk]) !== String(qv)) out.push(`${p}.${qk}: expected ${show(String(qv))}, got ${show(a[qk.toLowerCase()] ?? a[qk])}`);
    } else out.push(...diffValues(v, actual[k], p));
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
