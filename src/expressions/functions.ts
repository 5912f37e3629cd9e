/**
 * A spec's own JSONata functions (`definitions.functions`) and its currency exponent overrides, as one
 * library per distinct definition. Expressions are compiled through a process-wide cache keyed by their
 * source, and the same source can mean different things in two specs (`$cents` defined twice), so the spec
 * loader tags every expression that uses the library with a JSONata comment naming it:
 * `/*fn:<id>*\/ $cents(amount)`. The comment changes nothing for JSONata; compile.ts reads it, compiles the
 * expression after it and binds the library's functions into that expression. Expressions that use no
 * library name are left untouched (and keep the plain-path fast path).
 */
import { createHash } from 'node:crypto';
import jsonata from 'jsonata';
import { ExpressionError } from './errors.ts';
import { guardExpression } from './guard.ts';
import { MONEY_FUNCTION_NAMES, moneyFunctions, type ExponentTable } from './money.ts';

export interface FunctionDefinitions {
  /** name -> JSONata source `function($a, $b){ ... }`. */
  functions?: Record<string, string>;
  /** Upper- or lower-case currency code -> minor-unit exponent. */
  currency_exponents?: Record<string, number>;
}

export interface FunctionLibrary {
  readonly id: string;
  readonly names: readonly string[];
  readonly exponents?: ExponentTable;
  /** Binds the functions into a compiled expression (once per expression; the functions are made once per library). The money functions are bound by compile.ts. */
  bind(ast: jsonata.Expression): Promise<void>;
  /** True when the source calls one of this library's functions (or a money function the overrides change). */
  usedBy(source: string): boolean;
}

/** JSONata's own functions (docs.jsonata.org, 2.x): a spec function may not take their names. */
export const JSONATA_BUILTINS: ReadonlySet<string> = new Set([
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter', 'lowercase', 'uppercase',
  'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join', 'formatNumber', 'formatBase', 'formatInteger',
  'parseInteger', 'number', 'floor', 'ceil', 'round', 'abs', 'sqrt', 'power', 'random', 'boolean', 'not', 'map', 'zip', 'filter',
  'single', 'reduce', 'sift', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse', 'each', 'error', 'assert', 'type',
  'sort', 'shuffle', 'distinct', 'base64encode', 'base64decode', 'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent', 'decodeUrl',
  'eval', 'toMillis', 'fromMillis', 'clone', 'now', 'millis',
]);

/** Names no spec function may take: JSONata's functions and the runtime's money functions. */
export function reservedFunctionName(name: string): string | undefined {
  if (JSONATA_BUILTINS.has(name)) return `\`$${name}\` is a JSONata built-in function`;
  if ((MONEY_FUNCTION_NAMES as readonly string[]).includes(name)) return `\`$${name}\` is a built-in money function of taxbridge`;
  return undefined;
}

export interface FunctionProblem {
  name: string;
  code: 'EXPRESSION_SYNTAX' | 'LINT_FUNCTION_NOT_A_FUNCTION' | 'LINT_FUNCTION_RESERVED_NAME' | 'LINT_FUNCTION_NAME';
  message: string;
  /** Offset inside the function's source (syntax errors). */
  offset?: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What is wrong with each declared function (for the linter and for defineLibrary). */
export function checkFunctions(functions: Record<string, unknown>): FunctionProblem[] {
  const out: FunctionProblem[] = [];
  for (const [name, source] of Object.entries(functions)) {
    if (!NAME.test(name)) {
      out.push({ name, code: 'LINT_FUNCTION_NAME', message: `function name \`${name}\` is not a JSONata variable name (letters, digits, _; not starting with a digit)` });
      continue;
    }
    const reserved = reservedFunctionName(name);
    if (reserved) out.push({ name, code: 'LINT_FUNCTION_RESERVED_NAME', message: `definitions.functions.${name}: ${reserved}; choose another name` });
    if (typeof source !== 'string') continue;
    let ast: jsonata.ExprNode;
    try {
      ast = jsonata(source).ast();
    } catch (e) {
      const err = e as { message?: string; position?: number; code?: string };
      out.push({ name, code: 'EXPRESSION_SYNTAX', message: `invalid JSONata in function \`${name}\`: ${err.message ?? String(e)}${err.code ? ` (${err.code})` : ''}`, offset: err.position });
      continue;
    }
    if (ast.type !== 'lambda') out.push({ name, code: 'LINT_FUNCTION_NOT_A_FUNCTION', message: `definitions.functions.${name} is not a function: write it as \`function($v){ ... }\`` });
  }
  return out;
}

const libraries = new Map<string, FunctionLibrary>();

/** The library of these definitions (registered process-wide by content), or undefined when there is nothing to bind. */
export function defineLibrary(defs: FunctionDefinitions | undefined): FunctionLibrary | undefined {
  const functions = defs?.functions ?? {};
  const exps = defs?.currency_exponents ?? {};
  const names = Object.keys(functions);
  if (names.length === 0 && Object.keys(exps).length === 0) return undefined;
  const canonical = JSON.stringify([Object.entries(functions).sort(), Object.entries(exps).map(([k, v]) => [k.toUpperCase(), v]).sort()]);
  const id = createHash('sha256').update(canonical).digest('hex').slice(0, 16);
  const known = libraries.get(id);
  if (known) return known;
  const problems = checkFunctions(functions);
  if (problems.length) throw new ExpressionError('EXPRESSION_SYNTAX', String(functions[problems[0]!.name] ?? ''), problems.map((p) => p.message).join('; '), problems[0]!.offset);
  const exponents: ExponentTable | undefined = Object.keys(exps).length ? new Map(Object.entries(exps).map(([k, v]) => [k.toUpperCase(), v])) : undefined;
  // All functions in one block, so each sees the others (and the money functions with this spec's overrides).
  const block = names.length ? jsonata(`(${names.map((n) => `$${n} := ${functions[n]}`).join(';\n')};\n{${names.map((n) => `"${n}": $${n}`).join(', ')}})`) : undefined;
  if (block) bindMoney(block, exponents);
  // The functions run in this block's environment, whoever calls them: a playground's box must reach them.
  if (block) guardExpression(block);
  let made: Promise<Record<string, unknown>> | undefined;
  const lambdas = (): Promise<Record<string, unknown>> => (made ??= block ? (block.evaluate({}) as Promise<Record<string, unknown>>) : Promise.resolve({}));
  const watched = [...names, ...(exponents ? MONEY_FUNCTION_NAMES : [])];
  const uses = watched.length ? new RegExp(`\\$(?:${watched.join('|')})\\b`) : undefined;
  const lib: FunctionLibrary = {
    id,
    names,
    exponents,
    async bind(ast) {
      const fns = await lambdas();
      for (const n of names) ast.assign(n, fns[n]);
    },
    usedBy: (source) => !!uses && uses.test(source),
  };
  libraries.set(id, lib);
  return lib;
}

/** Registers `$fromMinor` / `$toMinor` (with a connector's exponent overrides, if any) in a compiled expression. */
export function bindMoney(ast: jsonata.Expression, exponents?: ExponentTable): void {
  for (const [name, fn] of Object.entries(moneyFunctions(exponents))) ast.registerFunction(name, fn);
}

const TAG = /^\/\*fn:([0-9a-f]{16})\*\//;

/** The source as the spec loader rewrites it when it uses the library; unchanged otherwise. */
export function tagSource(source: string, lib: FunctionLibrary | undefined): string {
  if (!lib || TAG.test(source) || !lib.usedBy(source)) return source;
  return `/*fn:${lib.id}*/${source}`;
}

/** Splits a tagged source into its library and the expression itself. */
export function untagSource(source: string): { lib?: FunctionLibrary; body: string } {
  const m = TAG.exec(source);
  if (!m) return { body: source };
  const lib = libraries.get(m[1]!);
  if (!lib) throw new ExpressionError('EXPRESSION_SYNTAX', source, `expression refers to function library ${m[1]}, which no loaded spec defines`);
  return { lib, body: source.slice(m[0].length) };
}
