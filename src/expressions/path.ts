/**
 * A fast path for the commonest expressions in specs: plain field paths such as `pagination.after`,
 * `parent.id` or `headers."x-rillet-id"`. They run as property reads instead of a JSONata evaluation
 * (which is async and ~1000x slower); anything JSONata would treat differently (arrays met on the way,
 * which JSONata maps over) falls back to JSONata by returning FALLBACK.
 */
export const FALLBACK: unique symbol = Symbol('fallback');

const STEP = /^(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`|"[^"]+"|'[^']+')$/;

export interface FieldPath {
  /** `$name` binding the path starts from, or undefined for the input. */
  variable?: string;
  steps: string[];
}

/** Parses `a.b."c-d"` or `$parent.id`; returns undefined when the source is anything more than a path. */
export function parseFieldPath(source: string): FieldPath | undefined {
  const text = source.trim();
  if (text === '' || text === '$') return text === '$' ? { steps: [] } : undefined;
  const parts = splitDots(text);
  if (!parts) return undefined;
  let variable: string | undefined;
  if (parts[0]!.startsWith('$')) {
    const name = parts[0]!.slice(1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return undefined;
    variable = name;
    parts.shift();
  }
  const steps: string[] = [];
  for (const p of parts) {
    if (!STEP.test(p)) return undefined;
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
