import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TaxbridgeError } from '../errors.ts';
import { formatText, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { scopeSpecFunctions } from './functions.ts';
import { lintSpec } from './lint.ts';
import type { ConnectorSpec } from './types.ts';
import { validateAgainstSchema } from './validate.ts';
import { parseSource } from './yaml-source.ts';

export interface CheckedSpec {
  file: string;
  spec?: ConnectorSpec;
  diagnostics: Diagnostic[];
}

/** Everything `taxbridge validate` checks for one file: YAML syntax, $refs, the schema, then lint. */
export function checkSpecText(file: string, text: string): CheckedSpec {
  const src = parseSource(file, text);
  if (src.diagnostics.some((d) => d.code.startsWith('YAML_'))) return { file, diagnostics: sortDiagnostics(unique(src.diagnostics)) };
  // A broken $ref leaves a hole the schema then complains about: report the cause once, not its echo.
  const refLines = new Set(src.diagnostics.filter((d) => d.code.startsWith('REF_')).map((d) => d.line));
  const schema = validateAgainstSchema(src).filter((d) => !refLines.has(d.line));
  const diagnostics = unique([...src.diagnostics, ...schema, ...lintSpec(src)]);
  if (hasErrors(diagnostics)) return { file, diagnostics: sortDiagnostics(diagnostics) };
  const spec = src.value as ConnectorSpec;
  scopeSpecFunctions(spec);
  return { file, spec, diagnostics: sortDiagnostics(diagnostics) };
}

function unique(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const key = `${d.line}:${d.column}:${d.code}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function checkSpecFile(file: string, displayName = relative(process.cwd(), file) || file): CheckedSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { file: displayName, diagnostics: [{ file: displayName, line: 1, column: 1, code: 'SPEC_UNREADABLE', message: `cannot read file: ${(e as Error).message}`, severity: 'error' }] };
  }
  return checkSpecText(displayName, text);
}

/** A spec that failed validation, carrying every diagnostic. */
export class SpecError extends TaxbridgeError {
  readonly diagnostics: Diagnostic[];
  constructor(file: string, diagnostics: Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super('SPEC_INVALID', `${file} has ${errors.length} error(s):\n${errors.map(formatText).join('\n')}`, { hint: `run \`taxbridge validate ${file}\`` });
    this.diagnostics = diagnostics;
  }
}

const loaded = new Map<string, { mtimeMs: number; spec: ConnectorSpec }>();

/** Loads and validates a connector spec; throws SpecError listing every problem. Cached per file and mtime. */
export function loadConnector(file: string): ConnectorSpec {
  const mtimeMs = statSync(file).mtimeMs;
  const hit = loaded.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.spec;
  const checked = checkSpecFile(file);
  if (!checked.spec || hasErrors(checked.diagnostics)) throw new SpecError(checked.file, checked.diagnostics);
  loaded.set(file, { mtimeMs, spec: checked.spec });
  return checked.spec;
}

/** Spec files under the given files/folders: *.yaml / *.yml, except spec test files (*.test.yaml). */
export function findSpecFiles(paths: string[]): string[] {
  return findYamlFiles(paths, (f) => !/\.test\.ya?ml$/.test(f));
}

/** Spec test files (*.test.yaml) under the given files/folders. */
export function findSpecTestFiles(paths: string[]): string[] {
  return findYamlFiles(paths, (f) => /\.test\.ya?ml$/.test(f));
}

function findYamlFiles(paths: string[], keep: (file: string) => boolean): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (!f.startsWith('.') && f !== 'node_modules') visit(join(p, f));
    } else if (/\.ya?ml$/.test(p) && keep(p)) out.push(p);
  };
  for (const p of paths) visit(p);
  return out;
}
