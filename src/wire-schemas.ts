/**
 * Every wire shape of the server, each written once as JSON Schema: schemas/tax-api/ (the Sphere-compatible tax
 * API), schemas/admin-api/ (the admin API, the console session, health, OAuth and webhook receipts) and
 * schemas/entities/ (stored records, which the admin API answers in part). From these files come the OpenAPI
 * components of /openapi.json (src/server/openapi.ts), the ajv validators of request bodies, and the
 * TypeScript types (scripts/gen-api-types.ts writes src/tax/api-types.generated.ts and
 * src/server/admin-api-types.generated.ts; `npm test` fails on drift).
 *
 * Names: a file's root and each of its $defs is one component, PascalCase of the file stem and the def
 * ("connections" + "connect_request" -> ConnectionsConnectRequest); entities are prefixed Entity. A $ref may point
 * into another folder ("../entities/connection.schema.json#/properties/webhook"): OpenAPI gets the same pointer
 * under the component.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { packagePath } from './package-root.ts';

export type Json = Record<string, unknown>;
type AddFormats = (ajv: Ajv2020) => void;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

export type WireDir = 'tax-api' | 'admin-api' | 'entities';
export const WIRE_DIRS: readonly WireDir[] = ['tax-api', 'admin-api', 'entities'];
const BASE = 'https://taxbridge.dev/schemas';

function loadDir(dir: WireDir): ReadonlyMap<string, Readonly<Json>> {
  const path = packagePath('schemas', dir);
  return new Map(
    readdirSync(path)
      .filter((f) => f.endsWith('.schema.json'))
      .sort()
      .map((f) => [f.slice(0, -'.schema.json'.length), JSON.parse(readFileSync(join(path, f), 'utf8')) as Json] as const),
  );
}

/** The schema files of each folder by stem ("calculate_tax_request"), parsed once. */
export const WIRE_SCHEMAS: Readonly<Record<WireDir, ReadonlyMap<string, Readonly<Json>>>> = {
  'tax-api': loadDir('tax-api'),
  'admin-api': loadDir('admin-api'),
  entities: loadDir('entities'),
};

const pascal = (s: string): string => s.replace(/(^|[_-])([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());

/** The component (and type) name of a schema file's root or of one of its $defs. */
export function componentName(dir: WireDir, stem: string, def?: string): string {
  return `${dir === 'entities' ? 'Entity' : ''}${pascal(stem)}${def ? pascal(def) : ''}`;
}

export interface RefTarget {
  dir: WireDir;
  stem: string;
  /** The $def named, when the pointer is #/$defs/<name>[/...]. */
  def?: string;
  /** What is left of the pointer below the root or the def ("/properties/webhook"), or "". */
  rest: string;
}

/** Where a $ref of a file in `dir`/`stem` points: "x.schema.json#/$defs/y", "#/$defs/y", "../entities/z.schema.json#/properties/w". */
export function refTarget(ref: string, dir: WireDir, stem: string): RefTarget {
  const m = /^(?:\.\.\/(tax-api|admin-api|entities)\/)?(?:([a-z0-9_-]+)\.schema\.json)?(?:#(\/.*)?)?$/.exec(ref);
  if (!m || (!m[1] && !m[2] && !m[3])) throw new Error(`schemas/${dir}/${stem}.schema.json: unsupported $ref ${ref}`);
  const targetDir = (m[1] as WireDir | undefined) ?? dir;
  if (m[1] && !m[2]) throw new Error(`schemas/${dir}/${stem}.schema.json: $ref ${ref} names a folder without a file`);
  const pointer = m[3] ?? '';
  const d = /^\/\$defs\/([a-z0-9_]+)(\/.*)?$/.exec(pointer);
  return { dir: targetDir, stem: m[2] ?? stem, ...(d ? { def: d[1], rest: d[2] ?? '' } : { rest: pointer }) };
}

/** The subschema a ref target names. */
export function resolveTarget(t: RefTarget): Json {
  let v: unknown = WIRE_SCHEMAS[t.dir].get(t.stem);
  if (!v) throw new Error(`no schema file schemas/${t.dir}/${t.stem}.schema.json`);
  const parts = [...(t.def ? ['$defs', t.def] : []), ...t.rest.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))];
  for (const p of parts) {
    v = v && typeof v === 'object' && Object.hasOwn(v, p) ? (v as Json)[p] : undefined;
    if (v === undefined) throw new Error(`schemas/${t.dir}/${t.stem}.schema.json has nothing at ${parts.join('/')}`);
  }
  return v as Json;
}

/** One folder's files and their $defs as OpenAPI 3.1 components, $refs rewritten to #/components/schemas/... */
export function openApiComponents(dir: WireDir): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [stem, schema] of WIRE_SCHEMAS[dir]) {
    const rewrite = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(rewrite);
      if (!v || typeof v !== 'object') return v;
      const o: Json = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') {
          const t = refTarget(x, dir, stem);
          resolveTarget(t); // a dangling $ref fails here, at start, not in a client
          o[k] = `#/components/schemas/${componentName(t.dir, t.stem, t.def)}${t.rest}`;
        } else o[k] = rewrite(x);
      }
      return o;
    };
    const { $schema: _s, $id: _i, $defs, ...root } = schema as Json;
    const add = (name: string, s: Json) => {
      if (out[name]) throw new Error(`schemas/${dir}: two components named ${name}`);
      out[name] = s;
    };
    if (root.type !== undefined || root.properties !== undefined || root.allOf !== undefined) add(componentName(dir, stem), rewrite(root) as Json);
    for (const [d, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) add(componentName(dir, stem, d), rewrite(def) as Json);
  }
  return out;
}

let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

/** One ajv for every wire schema; errors carry the value and schema at fault (`verbose`) for src/tax/schema-errors.ts. */
function getAjv(): Ajv2020 {
  if (!ajv) {
    ajv = new Ajv2020({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true });
    addFormats(ajv);
    for (const dir of WIRE_DIRS) for (const s of WIRE_SCHEMAS[dir].values()) ajv.addSchema(s as Json);
  }
  return ajv;
}

export const schemaId = (dir: WireDir, stem: string): string => `${BASE}/${dir}/${stem}.schema.json`;

/** A compiled validator of a schema file's root or of one of its $defs. */
export function wireValidator(dir: WireDir, stem: string, def?: string): ValidateFunction {
  const id = `${schemaId(dir, stem)}${def ? `#/$defs/${def}` : ''}`;
  let v = validators.get(id);
  if (!v) {
    v = getAjv().getSchema(id);
    if (!v) throw new Error(`no wire schema ${id}`);
    validators.set(id, v);
  }
  return v;
}

/**
 * A compiled validator of a variant of a schema file (the same file with other limits, e.g. a configured
 * line-item cap): `variant` says what differs and makes the variant's $id; compiled once per variant.
 */
export function wireVariantValidator(dir: WireDir, stem: string, variant: string, schema: Readonly<Json>): ValidateFunction {
  const id = `${schemaId(dir, stem)}?${variant}`;
  let v = validators.get(id);
  if (!v) {
    v = getAjv().compile({ ...schema, $id: id });
    validators.set(id, v);
  }
  return v;
}
