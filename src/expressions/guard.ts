/**
 * A time and size box for untrusted JSONata (the spec playground's "try a mapping"). JSONata has no timeout of
 * its own, but calls `__evaluate_entry` / `__evaluate_exit` hooks around every node it evaluates; these hooks
 * throw once the box's deadline has passed, the nesting is too deep, or a node produced too large an array or
 * string. The box lives in AsyncLocalStorage, so the hooks cost a lookup and nothing else outside a box (the
 * sync never opens one), and they also reach a spec's own functions, which run in their library's environment.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type jsonata from 'jsonata';

export interface EvaluationLimits {
  /** Wall-clock budget of the whole evaluation, ms. */
  timeMs: number;
  /** Nested node evaluations at most (non-terminating recursion that is not a tail call). */
  depth: number;
  /** Items of one array value, characters of one string value, at most. */
  size: number;
}

interface Box extends EvaluationLimits {
  deadline: number;
  level: number;
}

const boxes = new AsyncLocalStorage<Box>();

/** Why a boxed evaluation stopped (JSONata reports it as the expression's error, with the node's position). */
export class LimitExceeded extends Error {
  readonly code = 'U1001';
  constructor(message: string, readonly position?: number) {
    super(message);
  }
}

const ENTRY = Symbol.for('jsonata.__evaluate_entry');
const EXIT = Symbol.for('jsonata.__evaluate_exit');

function entry(expr: { position?: number }): void {
  const box = boxes.getStore();
  if (!box) return;
  if (++box.level > box.depth) throw new LimitExceeded(`evaluation nested deeper than ${box.depth} (a function that never stops calling itself?)`, expr.position);
  if (Date.now() > box.deadline) throw new LimitExceeded(`evaluation took longer than ${box.timeMs} ms (a loop that never ends?)`, expr.position);
}

function exit(expr: { position?: number }, _input: unknown, _env: unknown, result: unknown): void {
  const box = boxes.getStore();
  if (!box) return;
  box.level--;
  if ((Array.isArray(result) || typeof result === 'string') && result.length > box.size) {
    throw new LimitExceeded(`a value of ${result.length} ${Array.isArray(result) ? 'items' : 'characters'} is larger than the ${box.size} allowed`, expr.position);
  }
}

/** Makes a compiled expression obey the box its evaluation runs in (if any). */
export function guardExpression(ast: jsonata.Expression): void {
  ast.assign(ENTRY as unknown as string, entry);
  ast.assign(EXIT as unknown as string, exit);
}

/** Runs `fn` with every guarded evaluation inside it bounded by `limits`. */
export function withinLimits<T>(limits: EvaluationLimits, fn: () => Promise<T>): Promise<T> {
  return boxes.run({ ...limits, deadline: Date.now() + limits.timeMs, level: 0 }, fn);
}
