/**
 * JSON text for JSONB columns. PostgreSQL's jsonb cannot hold U+0000 (`\u0000` is refused with 22P05), so a
 * record, webhook body or checkpoint with a NUL in a string would fail every write of its page or delivery,
 * forever. Such strings (and keys) are stored with U+FFFD in place of each NUL; everything else is stored as
 * written. The scan for the escape costs one `includes` per write; the rewrite runs only when it matches.
 */
const NUL_ESCAPE = '\\u0000';

/** A copy of `v` with every NUL in its strings and keys replaced by U+FFFD. */
function withoutNul(v: unknown): unknown {
  if (typeof v === 'string') return v.replaceAll('\u0000', '\ufffd');
  if (Array.isArray(v)) return v.map(withoutNul);
  if (v !== null && typeof v === 'object') {
    // toJSON (dates) first, as JSON.stringify would.
    const o = typeof (v as { toJSON?: unknown }).toJSON === 'function' ? (v as { toJSON(): unknown }).toJSON() : v;
    if (o !== v) return withoutNul(o);
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, x] of Object.entries(v)) out[k.replaceAll('\u0000', '\ufffd')] = withoutNul(x);
    return out;
  }
  return v;
}

/** `text` (the JSON of `value` by `stringify`) as JSONB accepts it. */
export function jsonbSafe(text: string, value: unknown, stringify: (v: unknown) => string = JSON.stringify): string {
  return text.includes(NUL_ESCAPE) ? stringify(withoutNul(value)) : text;
}

/** JSON.stringify for a JSONB parameter. */
export function jsonbText(value: unknown): string {
  return jsonbSafe(JSON.stringify(value), value);
}

/**
 * A document's JSON text (as JSON.stringify gives it) as JSONB accepts it: the same text put() would store for
 * that document. Only a text holding the escape is parsed (and throws when it is not JSON).
 */
export function jsonbSafeText(text: string): string {
  return text.includes(NUL_ESCAPE) ? JSON.stringify(withoutNul(JSON.parse(text))) : text;
}
