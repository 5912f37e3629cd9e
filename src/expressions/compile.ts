import jsonata from 'jsonata';
import { ExpressionError } from './errors.ts';
import { FALLBACK, parseConcatenation, parseFieldPath, readConcatenation, readFieldPath } from './path.ts';
import { bindMoney, untagSource } from './functions.ts';
import { guardExpression } from './guard.ts';

/** A compiled JSONata expression. `evaluate` never returns JSONata's internal sequence wrappers. */
export interface Expression {
  readonly source: string;
  /** True when the expression is a plain field path served without JSONata. */
  readonly isPath: boolean;
  evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown>;
  /** Synchronous read for plain paths and string concatenations of them (hot loops); undefined when the expression needs JSONata. */
  readSync(input: unknown, bindings?: Record<string, unknown>): { value: unknown } | undefined;
}

const cache = new Map<string, Expression>();

/**
 * Compiles (once per distinct source, process-wide) a JSONata expression. Throws ExpressionError on bad syntax.
 * Every expression can call `$fromMinor` / `$toMinor`; a source tagged by the spec loader (functions.ts) also
 * gets its spec's `definitions.functions` and exponent overrides.
 */
export function compileExpression(source: string): Expression {
  const hit = cache.get(source);
  if (hit) return hit;
  const compiled = build(source);
  cache.set(source, compiled);
  return compiled;
}

/**
 * Compiles without the process-wide cache, obeying the evaluation box it runs in (guard.ts): for untrusted
 * expressions (the playground), which must neither fill the cache nor run unbounded.
 */
export function compileGuardedExpression(source: string): Expression {
  return build(source, true);
}

function build(tagged: string, guarded = false): Expression {
  const { lib, body: source } = untagSource(tagged);
  let ast: jsonata.Expression;
  try {
    ast = jsonata(source);
  } catch (e) {
    const err = e as { message?: string; position?: number; code?: string };
    throw new ExpressionError('EXPRESSION_SYNTAX', source, `invalid JSONata: ${err.message ?? String(e)}${err.code ? ` (${err.code})` : ''}`, err.position, e);
  }
  bindMoney(ast, lib?.exponents);
  if (guarded) guardExpression(ast);
  let bound: Promise<void> | undefined;
  const path = lib ? undefined : parseFieldPath(source);
  const viaJsonata = async (input: unknown, bindings?: Record<string, unknown>) => {
    try {
      if (lib) await (bound ??= lib.bind(ast));
      return normalize(await ast.evaluate(input, bindings));
    } catch (e) {
      const err = e as { message?: string; position?: number; code?: string };
      throw new ExpressionError('EXPRESSION_EVALUATION', source, `expression \`${abbreviate(source)}\` failed: ${err.message ?? String(e)}`, err.position, e);
    }
  };
  // A plain read where the source allows one (a field path, a concatenation of paths and literals); JSONata
  // where that read gives up (FALLBACK) or the source is anything else.
  const fast = (read: (input: unknown, bindings: Record<string, unknown> | undefined) => unknown, isPath: boolean): Expression => ({
    source,
    isPath,
    evaluate(input, bindings) {
      const v = read(input, bindings);
      return v === FALLBACK ? viaJsonata(input, bindings) : Promise.resolve(v);
    },
    readSync(input, bindings) {
      const v = read(input, bindings);
      return v === FALLBACK ? undefined : { value: v };
    },
  });
  if (path) return fast((input, bindings) => readFieldPath(path, input, bindings), true);
  const concatenation = lib ? undefined : parseConcatenation(source);
  if (concatenation) return fast((input, bindings) => readConcatenation(concatenation, input, bindings), false);
  return { source, isPath: false, evaluate: viaJsonata, readSync: () => undefined };
}

/** JSONata marks result arrays with a `sequence` flag and may return them frozen-ish; give callers plain JSON. */
function normalize(v: unknown): unknown {
  if (Array.isArray(v) && (v as unknown as { sequence?: boolean }).sequence) return Array.from(v, normalize);
  return v;
}

function abbreviate(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > 60 ? `${one.slice(0, 57)}...` : one;
}
