/**
 * Admin request bodies checked by their JSON Schemas (schemas/admin-api/, compiled by src/wire-schemas.ts).
 * The first failure is told as the tax API tells its own (src/tax/schema-errors.ts: the field as `param`, what is
 * wrong and what is expected), raised as the admin API's invalid_input so each router answers it in its shape.
 */
import { TaxbridgeError } from '../errors.ts';
import { TaxApiError } from '../tax/errors.ts';
import { checkSchema } from '../tax/schema-errors.ts';
import { wireValidator } from '../wire-schemas.ts';

/** `value` checked against schemas/admin-api/<stem>.schema.json#/$defs/<def>, typed as that shape. */
export function adminBody<T>(stem: string, def: string, value: unknown): T {
  try {
    checkSchema(wireValidator('admin-api', stem, def), value, 'the request body');
  } catch (e) {
    if (e instanceof TaxApiError) throw new TaxbridgeError('invalid_input', e.message, e.param ? { details: { field: e.param } } : {});
    throw e;
  }
  return value as T;
}

/**
 * A query string checked against schemas/admin-api/<stem>.schema.json#/$defs/<def>: each parameter given once
 * (else 400 naming it), empty ones left out, whole numbers read as numbers where the schema wants an integer,
 * and a comma-separated list read as an array where it wants one. A failure names the parameter itself
 * (`status`, not `status[1]`): that is what the caller typed.
 */
export function adminQuery<T>(stem: string, def: string, query: Record<string, string | string[] | undefined>): T {
  const props = ((wireValidator('admin-api', stem, def).schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {}) as Record<string, { type?: unknown }>;
  const out: Record<string, unknown> = {};
  // As in bodies, an unknown parameter is refused: a misspelt filter (?stauts=dead) must not list everything.
  for (const name of Object.keys(query)) {
    if (!Object.hasOwn(props, name)) {
      const known = Object.keys(props);
      throw new TaxbridgeError('invalid_input', `unknown query parameter ${JSON.stringify(name.slice(0, 40))}; ${known.length ? `this route takes ${known.join(', ')}` : 'this route takes none'}`, { details: { field: name.slice(0, 40) } });
    }
  }
  for (const [name, schema] of Object.entries(props)) {
    const v = query[name];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') throw new TaxbridgeError('invalid_input', `${name} must be given once`, { details: { field: name } });
    out[name] =
      schema.type === 'integer' && /^-?\d{1,15}$/.test(v)
        ? Number(v)
        : schema.type === 'array'
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : v;
  }
  try {
    return adminBody<T>(stem, def, out);
  } catch (e) {
    const field = e instanceof TaxbridgeError ? e.details?.field : undefined;
    const name = typeof field === 'string' ? /^[^[.]+/.exec(field)?.[0] : undefined;
    if (name !== undefined && name !== field) {
      const message = (e as Error).message;
      throw new TaxbridgeError('invalid_input', message.startsWith(field as string) ? `${name}${message.slice((field as string).length)}` : message, { details: { field: name } });
    }
    throw e;
  }
}
