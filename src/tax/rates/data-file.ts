/**
 * Loading one rate table (src/tax/data/*.yaml): read it, parse it with src/spec's YAML parser (which keeps
 * every node's position) and check it against its schema, so that any problem, the schema's or a later
 * check's, is reported as file:line:column.
 */
import { readFileSync } from 'node:fs';
import { validateAgainstSchema } from '../../spec/validate.ts';
import { parseSource, pointerJoin, positionOf, type SourceDocument } from '../../spec/yaml-source.ts';
import { dataError, taxDataValidator, type TaxDataSchema } from './validate.ts';

export interface DataFile<T> {
  /** The file as errors name it (relative to the working directory when under it). */
  readonly label: string;
  /** The parsed document, valid against its schema. */
  readonly doc: T;
  /** "label:line:column" of the node at a JSON Pointer ("/states/3/rate"), or of its nearest existing ancestor. */
  at(pointer: string): string;
  /** Throws tax_data_invalid at the node: "label:line:column: message". */
  fail(pointer: string, message: string): never;
}

/** A JSON Pointer from path parts: pointer('states', 3, 'rate') = "/states/3/rate". */
export function pointer(...parts: Array<string | number>): string {
  return parts.reduce<string>((p, k) => pointerJoin(p, k), '');
}

export function readDataFile<T>(file: string, label: string, schema: TaxDataSchema): DataFile<T> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw dataError(`${label}: cannot read tax data file (${(e as Error).message})`);
  }
  const src: SourceDocument = parseSource(label, text);
  const syntax = src.diagnostics[0];
  if (syntax) throw dataError(`${label}:${syntax.line}:${syntax.column}: YAML syntax error: ${syntax.message}`, syntax.hint);
  const invalid = validateAgainstSchema(src, taxDataValidator(schema))[0];
  if (invalid) throw dataError(`${label}:${invalid.line}:${invalid.column}: ${invalid.message}`, invalid.hint);
  const at = (p: string): string => {
    const pos = positionOf(src, p);
    return `${label}:${pos.line}:${pos.column}`;
  };
  return {
    label,
    doc: src.value as T,
    at,
    fail(p, message) {
      throw dataError(`${at(p)}: ${message}`);
    },
  };
}
