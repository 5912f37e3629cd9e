/**
 * A fast path for the commonest expressions in specs: plain field paths such as `pagination.after`,
 * `parent.id` or `headers."x-rillet-id"`, whole-expression literals (`"dataChangeEvent"`, `42`, `true`,
 * `null`), and string concatenations of those (`headers."x-rillet-entity" & "." & headers."x-rillet-event"`).
 * They run as property reads instead of a JSONata evaluation (which is async and ~1000x slower); anything
 * JSONata would treat differently (arrays met on the way, which JSONata maps over; a concatenation of
 * anything but strings, which JSONata formats with $string) falls back to JSONata by returning FALLBACK.
 */
export const FALLBACK: unique symbol = Symbol('fallback');

const STEP = /^(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`|"[^"]+"|'[^']+')$/;

/** JSONata's value keywords: a literal as a whole expression, never a field name, and no path step. */
const KEYWORDS: Record<string, boolean | null> = { true: true, false: false, null: null };
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

export interface FieldPath {
  /** `$name` binding the path starts from, or undefined for the input. */
  variable?: string;
  steps: string[];
  /** Set when the whole expression is a literal (`"text"`, `'text'`, a number, true, false, null). */
  literal?: { value: unknown };
}

/**
 * Parses `a.b."c-d"` or `$parent.id`, or a whole-expression literal; returns undefined when the source is
 * anything more. A quoted string alone is a string literal in JSONata (only inside a path is it a field
 * name); backticks always name a field.
 */
export function parseFieldPath(source: string): FieldPath | undefined {
  const text = source.trim();
  if (text === '' || text === '$') return text === '$' ? { steps: [] } : undefined;
  if (Object.hasOwn(KEYWORDS, text)) return { steps: [], literal: { value: KEYWORDS[text] } };
  if (NUMBER.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? { steps: [], literal: { value: n } } : undefined;
  }
  const parts = splitDots(text);
  if (!parts) return undefined;
  if (parts.length === 1 && /^(?:"[^"]*"|'[^']*')$/.test(parts[0]!)) {
    // Escapes (`"a\"b"`) are JSONata's to read.
    return parts[0]!.includes('\\') ? undefined : { steps: [], literal: { value: parts[0]!.slice(1, -1) } };
  }
  let variable: string | undefined;
  if (parts[0]!.startsWith('$')) {
    const name = parts[0]!.slice(1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return undefined;
    variable = name;
    parts.shift();
  }
  const steps: string[] = [];
  for (const p of parts) {
    if (!STEP.test(p) || Object.hasOwn(KEYWORDS, p)) return undefined;
    steps.push(/^[`"']/.test(p) ? p.slice(1, -1) : p);
  }
  return { variable, steps };
}

function splitDots(text: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  for (const ch of text) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
      cur += ch;
    } else if (ch === '.') {
      out.push(cur.trim());
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (quote) return undefined;
  out.push(cur.trim());
  return out.every((p) => p.length > 0) ? out : undefined;
}

export function readFieldPath(path: FieldPath, input: unknown, bindings: Record<string, unknown> | undefined): unknown {
  if (path.literal) return path.literal.value;
  let value: unknown = path.variable === undefined ? input : bindings?.[path.variable];
  if (path.variable !== undefined && !(bindings && path.variable in bindings)) return FALLBACK;
  for (const step of path.steps) {
    if (value === undefined || value === null) return undefined;
    if (Array.isArray(value)) return FALLBACK;
    if (typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}

/**
 * `a & "." & b.c`: operands (field paths or literals, as parseFieldPath reads them) joined by JSONata's
 * string concatenation; undefined unless the source is exactly that, with at least two operands. `&` binds
 * tighter than comparisons and the boolean operators, so any other operator leaves an operand that is no
 * field path, and the whole expression to JSONata.
 */
export function parseConcatenation(source: string): FieldPath[] | undefined {
  const operands: string[] = [];
  let cur = '';
  let quote = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (quote) {
      cur += ch;
      if (ch === '\\' && quote !== '`' && i + 1 < source.length) cur += source[++i];
      else if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
      cur += ch;
    } else if (ch === '&') {
      operands.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quote || operands.length === 0) return undefined;
  operands.push(cur);
  const paths: FieldPath[] = [];
  for (const o of operands) {
    const p = parseFieldPath(o);
    if (!p) return undefined;
    paths.push(p);
  }
  return paths;
}

/**
 * JSONata's `&` over the operands' values when each is a string or undefined (undefined adds nothing);
 * FALLBACK for any other value, which JSONata would format ($string of a number, object, null...).
 */
export function readConcatenation(paths: FieldPath[], input: unknown, bindings: Record<string, unknown> | undefined): string | typeof FALLBACK {
  let s = '';
  for (const p of paths) {
    const v = readFieldPath(p, input, bindings);
    if (typeof v === 'string') s += v;
    else if (v !== undefined) return FALLBACK;
  }
  return s;
}
