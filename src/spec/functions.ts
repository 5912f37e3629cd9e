/**
 * Gives a loaded spec its own functions: every expression and template part that calls one of the spec's
 * `definitions.functions` (or a money function whose exponents the spec overrides) is tagged with the
 * spec's function library (see src/expressions/functions.ts). Runs after validation and lint, so
 * diagnostics point at the text as written.
 */
import { defineLibrary, tagSource, type FunctionLibrary } from '../expressions/functions.ts';
import { splitTemplate } from '../expressions/index.ts';
import { forEachExpressionField } from './expression-fields.ts';
import type { ConnectorSpec } from './types.ts';

export function scopeSpecFunctions(spec: ConnectorSpec): void {
  const lib = defineLibrary(spec.definitions);
  if (!lib) return;
  forEachExpressionField(spec, (f) => {
    if (f.kind === 'expression') {
      if (typeof f.value === 'string') f.set(tagSource(f.value, lib));
    } else f.set(tagTemplate(f.value, lib));
  });
}

function tagTemplate(value: unknown, lib: FunctionLibrary): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{{') || !lib.usedBy(value)) return value;
    return splitTemplate(value)
      .map((p) => (typeof p === 'string' ? p : `{{ ${tagSource(p.source, lib)} }}`))
      .join('');
  }
  if (Array.isArray(value)) return value.map((v) => tagTemplate(v, lib));
  if (value && typeof value === 'object') {
    // In place, by defineProperty: a YAML key such as "__proto__" stays a plain key.
    for (const [k, v] of Object.entries(value)) Object.defineProperty(value, k, { value: tagTemplate(v, lib), enumerable: true, writable: true, configurable: true });
    return value;
  }
  return value;
}
