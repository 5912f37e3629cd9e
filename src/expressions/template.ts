import { compileExpression, type Expression } from './compile.ts';
import { ExpressionError } from './errors.ts';

/**
 * Templates are the values of request paths, query parameters, headers, bodies and signed-content strings.
 * A string may embed JSONata between `{{` and `}}`:
 *   - a string that is exactly one `{{ expr }}` yields the expression's value with its JSON type kept
 *     ("478" stays a string, 478 stays a number, an object stays an object);
 *   - a string with text around expressions yields a string (undefined/null parts become "");
 *   - objects and arrays are templated member by member; other scalars pass through.
 * One expression language everywhere: the same JSONata as mappings and conditions.
 */
export type Template =
  | { kind: 'literal'; value: unknown }
  | { kind: 'expression'; expr: Expression }
  | { kind: 'concat'; parts: Array<string | Expression> }
  | { kind: 'object'; entries: Array<[string, Template]> }
  | { kind: 'array'; items: Template[] };

export interface TemplateSegment {
  /** Offset of the expression source inside the template string. */
  offset: number;
  source: string;
}

/** Splits a string into literal text and `{{ }}` expressions, aware of JSONata strings and braces. */
export function splitTemplate(text: string): Array<string | TemplateSegment> {
  const out: Array<string | TemplateSegment> = [];
  let i = 0;
  let lit = '';
  while (i < text.length) {
    if (text.startsWith('{{', i)) {
      const start = i + 2;
      const end = findClose(text, start);
      if (end < 0) throw new ExpressionError('EXPRESSION_SYNTAX', text, 'template has `{{` without a matching `}}`', i);
      if (lit) out.push(lit);
      lit = '';
      const raw = text.slice(start, end);
      const lead = raw.length - raw.trimStart().length;
      if (raw.trim() === '') throw new ExpressionError('EXPRESSION_SYNTAX', text, 'empty `{{ }}` in template', i);
      out.push({ offset: start + lead, source: raw.trim() });
      i = end + 2;
    } else {
      lit += text[i];
      i++;
    }
  }
  if (lit) out.push(lit);
  return out;
}

function findClose(text: string, from: number): number {
  let depth = 0;
  let quote = '';
  for (let i = from; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (ch === '{') depth++;
    else if (ch === '}') {
      if (depth === 0 && text[i + 1] === '}') return i;
      depth = Math.max(0, depth - 1);
    }
  }
  return -1;
}

/** Compiles a template value (any JSON). Throws ExpressionError for a bad embedded expression. */
export function compileTemplate(value: unknown): Template {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return { kind: 'literal', value };
    const parts = splitTemplate(value);
    if (parts.length === 1 && typeof parts[0] !== 'string') return { kind: 'expression', expr: compileExpression(parts[0]!.source) };
    return { kind: 'concat', parts: parts.map((p) => (typeof p === 'string' ? p : compileExpression(p.source))) };
  }
  if (Array.isArray(value)) return { kind: 'array', items: value.map(compileTemplate) };
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, compileTemplate(v)] as [string, Template]);
    if (entries.every(([, t]) => t.kind === 'literal')) return { kind: 'literal', value };
    return { kind: 'object', entries };
  }
  return { kind: 'literal', value };
}

/** True when rendering needs no expression at all (the value is constant). */
export function isConstant(t: Template): boolean {
  return t.kind === 'literal';
}

/** Renders a compiled template against a context (the JSONata input) and optional `$` bindings. */
export async function renderTemplate(t: Template, context: unknown, bindings?: Record<string, unknown>): Promise<unknown> {
  switch (t.kind) {
    case 'literal':
      return t.value;
    case 'expression': {
      const fast = t.expr.readSync(context, bindings);
      return fast ? fast.value : t.expr.evaluate(context, bindings);
    }
    case 'concat': {
      let s = '';
      for (const p of t.parts) {
        if (typeof p === 'string') s += p;
        else {
          const fast = p.readSync(context, bindings);
          s += templateText(fast ? fast.value : await p.evaluate(context, bindings));
        }
      }
      return s;
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of t.entries) {
        const r = await renderTemplate(v, context, bindings);
        if (r !== undefined) out[k] = r;
      }
      return out;
    }
    case 'array': {
      const out: unknown[] = [];
      for (const item of t.items) out.push(await renderTemplate(item, context, bindings));
      return out;
    }
  }
}

/** A value as a part of a template string (undefined and null: "", objects as JSON). */
export function templateText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Lists every expression source in a template value, with its offset inside its string (for linting). */
export function templateExpressions(value: unknown, path: Array<string | number> = []): Array<{ path: Array<string | number>; segment: TemplateSegment }> {
  const out: Array<{ path: Array<string | number>; segment: TemplateSegment }> = [];
  if (typeof value === 'string') {
    if (value.includes('{{')) for (const p of splitTemplate(value)) if (typeof p !== 'string') out.push({ path, segment: p });
  } else if (Array.isArray(value)) value.forEach((v, i) => out.push(...templateExpressions(v, [...path, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...templateExpressions(v, [...path, k]));
  return out;
}
