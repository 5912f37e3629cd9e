import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Ajv2020, Options, ValidateFunction } from 'ajv/dist/2020.js';
import { own } from '../own.ts';
import { packagePath } from '../package-root.ts';

/**
 * The project's JSON Schemas, compiled once per process with one ajv instance. The built package (dist/) also
 * carries the connector, spec-test and entity validators compiled at build time (scripts/precompile-validators.ts):
 * compiling the connector schema is most of `taxbridge validate`'s start, so the installed CLI skips it, and ajv
 * itself is loaded only when something is compiled here.
 */
export const SCHEMAS_DIR = packagePath('schemas');

// verbose: errors carry the failing schema (for "did you mean" over allowed keys and values).
export const AJV_OPTIONS: Readonly<Options> = { allErrors: true, verbose: true, discriminator: true, strict: true, strictRequired: false, allowUnionTypes: true };

const require = createRequire(import.meta.url);
type AddFormats = (ajv: Ajv2020) => void;

let ajv: Ajv2020 | undefined;
let connector: ValidateFunction | undefined;
const entities = new Map<string, ValidateFunction>();

/** A new ajv with the project's options, formats and entity schemas; `code` for build-time standalone output. */
export function createAjv(extra: Pick<Options, 'code'> = {}): Ajv2020 {
  const { Ajv2020: Ctor } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const formats = require('ajv-formats') as { default?: AddFormats } & AddFormats;
  const a = new Ctor({ ...AJV_OPTIONS, ...extra });
  (formats.default ?? formats)(a);
  for (const f of readdirSync(join(SCHEMAS_DIR, 'entities')).sort()) {
    if (f.endsWith('.schema.json')) a.addSchema(readJson(join(SCHEMAS_DIR, 'entities', f)));
  }
  return a;
}

export function getAjv(): Ajv2020 {
  ajv ??= createAjv();
  return ajv;
}

/** The files the precompiled validators are made from, and their SHA-256: a stale build is not used. */
export function precompiledSources(): { files: string[]; hash: string } {
  const files = ['connector.schema.json', 'spec-test.schema.json', ...readdirSync(join(SCHEMAS_DIR, 'entities')).filter((f) => f.endsWith('.schema.json')).sort().map((f) => `entities/${f}`)];
  const h = createHash('sha256');
  for (const f of files) h.update(f).update('\0').update(readFileSync(join(SCHEMAS_DIR, f))).update('\0');
  h.update(JSON.stringify(AJV_OPTIONS));
  return { files, hash: h.digest('hex') };
}

export const PRECOMPILED_FILE = 'validators.precompiled.cjs';
export const entityExportName = (name: string): string => `entity_${name}`;

interface Precompiled {
  sourceHash: string;
  connector: ValidateFunction;
  specTest: ValidateFunction;
  [name: string]: unknown;
}

let precompiled: Precompiled | null | undefined;

/** The build's validators when present next to this module (dist/src/spec/) and made from the current schemas. */
function loadPrecompiled(): Precompiled | null {
  if (precompiled !== undefined) return precompiled;
  const file = join(import.meta.dirname, PRECOMPILED_FILE);
  precompiled = null;
  if (existsSync(file)) {
    const mod = require(file) as Precompiled;
    if (mod.sourceHash === precompiledSources().hash) precompiled = mod;
  }
  return precompiled;
}

export function connectorSchema(): Record<string, unknown> {
  return readJson(join(SCHEMAS_DIR, 'connector.schema.json'));
}

/** True when the validators come from the build (dist/ with current schemas); false from the sources. */
export function usingPrecompiledValidators(): boolean {
  return loadPrecompiled() !== null;
}

export function connectorValidator(): ValidateFunction {
  connector ??= loadPrecompiled()?.connector ?? getAjv().compile(connectorSchema());
  return connector;
}

let specTest: ValidateFunction | undefined;

/** Validator for spec test files (schemas/spec-test.schema.json). */
export function specTestValidator(): ValidateFunction {
  specTest ??= loadPrecompiled()?.specTest ?? getAjv().compile(readJson(join(SCHEMAS_DIR, 'spec-test.schema.json')));
  return specTest;
}

/** Validator for a canonical entity (schemas/entities/<name>.schema.json). */
export function entityValidator(name: string): ValidateFunction {
  let v = entities.get(name);
  if (!v) {
    const built = own(loadPrecompiled() ?? undefined, entityExportName(name)) as ValidateFunction | undefined;
    const found = built ?? getAjv().getSchema(`https://taxbridge.dev/schemas/entities/${name}.schema.json`);
    if (!found) throw new Error(`no entity schema named ${name}`);
    v = found;
    entities.set(name, v);
  }
  return v;
}

export function entityNames(): string[] {
  return readdirSync(join(SCHEMAS_DIR, 'entities'))
    .filter((f) => f.endsWith('.schema.json') && f !== 'common.schema.json')
    .map((f) => f.replace('.schema.json', ''));
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}
