import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Ajv2020, Options, ValidateFunction } from 'ajv/dist/2020.js';
import { own } from '../own.ts';
import { packagePath } from '../package-root.ts';

/**
 * The project's JSON Schemas, compiled once per process with one ajv instance. The built package (dist/) also
 * carries the connector, spec-test and entity validators compiled at build time (scripts/build.ts):
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

/**
 * The build's validators, in two files: the connector schema's alone (all `taxbridge validate` needs, so its start
 * parses only that), and the spec-test and entity schemas'.
 */
export const PRECOMPILED_FILES = { connector: 'validators-connector.precompiled.cjs', others: 'validators.precompiled.cjs' } as const;
export type PrecompiledPart = keyof typeof PRECOMPILED_FILES;
export const entityExportName = (name: string): string => `entity_${name}`;

interface Precompiled {
  sourceHash: string;
  [name: string]: unknown;
}

const precompiled = new Map<PrecompiledPart, Precompiled | null>();
let sourceHash: string | undefined;

/** The build's validators when present next to this module (dist/src/spec/) and made from the current schemas. */
function loadPrecompiled(part: PrecompiledPart): Precompiled | null {
  let mod = precompiled.get(part);
  if (mod !== undefined) return mod;
  const file = join(import.meta.dirname, PRECOMPILED_FILES[part]);
  mod = null;
  if (existsSync(file)) {
    const loaded = require(file) as Precompiled;
    sourceHash ??= precompiledSources().hash;
    if (loaded.sourceHash === sourceHash) mod = loaded;
  }
  precompiled.set(part, mod);
  return mod;
}

export function connectorSchema(): Record<string, unknown> {
  return readJson(join(SCHEMAS_DIR, 'connector.schema.json'));
}

/** True when the validators come from the build (dist/ with current schemas); false from the sources. */
export function usingPrecompiledValidators(): boolean {
  return loadPrecompiled('connector') !== null && loadPrecompiled('others') !== null;
}

export function connectorValidator(): ValidateFunction {
  connector ??= (loadPrecompiled('connector')?.connector as ValidateFunction | undefined) ?? getAjv().compile(connectorSchema());
  return connector;
}

let specTest: ValidateFunction | undefined;

/** Validator for spec test files (schemas/spec-test.schema.json). */
export function specTestValidator(): ValidateFunction {
  specTest ??= (loadPrecompiled('others')?.specTest as ValidateFunction | undefined) ?? getAjv().compile(readJson(join(SCHEMAS_DIR, 'spec-test.schema.json')));
  return specTest;
}

/** Validator for a canonical entity (schemas/entities/<name>.schema.json). */
export function entityValidator(name: string): ValidateFunction {
  let v = entities.get(name);
  if (!v) {
    const built = own(loadPrecompiled('others') ?? undefined, entityExportName(name)) as ValidateFunction | undefined;
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
