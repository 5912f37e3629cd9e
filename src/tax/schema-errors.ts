/**
 * A tax API body checked by its ajv-compiled schema (schemas/tax-api/, ./api-schemas.ts), and ajv's first
 * error told in Sphere's shape: a 400 `validation_errors` whose `param` names the field as Sphere does
 * ("line_items[2].amount") and whose message says what is wrong there and what is expected (the field's own
 * description from the schema where one exists), never ajv's wording or a schema path.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { TaxApiError, validationError } from './errors.ts';

type Json = Record<string, unknown>;

/** "/line_items/0/ship_to/city" -> "line_items[0].ship_to.city" (JSON Pointer escapes undone). */
export function paramOf(instancePath: string): string {
  if (instancePath === '') return '';
  let out = '';
  for (const raw of instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  }
  return out;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number with a fraction';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
};

/** The first sentence of a schema's description, for "what is expected" (at most 160 characters). */
function described(s: unknown): string {
  const d = s && typeof s === 'object' ? (s as Json).description : undefined;
  if (typeof d !== 'string' || d === '') return '';
  const first = d.split(/(?<=\.)\s/)[0]!;
  return first.length > 160 ? `${first.slice(0, 157)}...` : first;
}

/** "; <what the field is>" from its schema, unless it says no more than "Free text.". */
function expected(s: unknown): string {
  const d = described(s);
  return d && d !== 'Free text.' ? `; ${d.replace(/ Free text\.$/, '')}` : '';
}

const either = (words: string[]): string => (words.length < 2 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`);

const join = (param: string, key: string): string => (param ? `${param}.${key}` : key);
const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v) : String(v));

/** One ajv error (compiled with `verbose: true`, so the value and its schema are at hand) as a Sphere error. */
export function schemaError(e: ErrorObject, body: string): TaxApiError {
  const param = paramOf(e.instancePath);
  const at = param || body;
  const p = e.params as Json;
  const data = e.data;
  switch (e.keyword) {
    case 'type': {
      const want = (Array.isArray(p.type) ? (p.type as string[]) : String(p.type).split(',')).filter((t) => t !== 'null');
      if (param === '') return new TaxApiError(400, 'validation_errors', `${body} must be a JSON object, got ${typeName(data)}`);
      if (want.includes('integer') && typeof data === 'number') {
        return validationError(param, `${param} must be a whole number${/amount/.test(param) ? ' of minor units (e.g. 1050 for 10.50)' : ''}, got ${data}`);
      }
      const props = (e.parentSchema as Json | undefined)?.properties;
      const fields = want.includes('object') && props && typeof props === 'object' ? ` (${Object.keys(props).join(', ')})` : '';
      return validationError(param, `${param} must be ${either(want.map((t) => TYPE_WORDS[t] ?? t))}${fields}, got ${typeName(data)}${fields ? '' : expected(e.parentSchema)}`);
    }
    case 'required': {
      const missing = String(p.missingProperty);
      const props = (e.parentSchema as Json | undefined)?.properties as Json | undefined;
      const what = described(props?.[missing]);
      return validationError(join(param, missing), `${join(param, missing)} is required${what ? `: ${what}` : ''}`);
    }
    case 'minItems':
      return validationError(at, `${at} must contain at least ${p.limit} ${Number(p.limit) === 1 ? 'entry' : 'entries'}`);
    case 'maxItems': {
      const noun = /(^|\.)(line_items|lines)$/.test(at) ? 'lines' : 'entries';
      return validationError(at, `${at} has ${Array.isArray(data) ? data.length : 'too many'} ${noun}; at most ${p.limit} ${noun} are accepted${noun === 'lines' && at === 'line_items' ? ' per calculation' : ''}`);
    }
    case 'maxProperties':
      return validationError(at, `${at} has ${data && typeof data === 'object' ? Object.keys(data).length : 'too many'} keys; at most ${p.limit} are accepted`);
    case 'minLength':
      return validationError(at, `${at} ${Number(p.limit) === 1 ? 'must not be empty' : `is shorter than ${p.limit} characters`}${expected(e.parentSchema)}`);
    case 'maxLength':
      // Inside propertyNames ajv names the key being checked.
      if (typeof e.propertyName === 'string') return validationError(at, `${at} key ${shown(e.propertyName)} is longer than ${p.limit} characters`);
      return validationError(at, `${at} is longer than ${p.limit} characters${expected(e.parentSchema)}`);
    case 'propertyNames':
      return validationError(at, `${at} key ${shown(p.propertyName)} is not accepted`);
    case 'minimum':
    case 'exclusiveMinimum':
      if (Number(p.limit) === 0 && e.keyword === 'minimum') return validationError(at, `${at} must not be negative, got ${data}`);
      return validationError(at, e.keyword === 'minimum' ? `${at} is smaller than ${p.limit}, got ${data}` : `${at} must be more than ${p.limit}, got ${data}`);
    case 'maximum':
    case 'exclusiveMaximum':
      if (Number(p.limit) === Number.MAX_SAFE_INTEGER) return validationError(at, `${at} is too large (more than 2^53 - 1)`);
      return validationError(at, e.keyword === 'maximum' ? `${at} is larger than ${Number(p.limit).toLocaleString('en-US')}, got ${data}` : `${at} must be less than ${p.limit}, got ${data}`);
    case 'pattern': {
      const what = described(e.parentSchema);
      return validationError(at, `${at} ${shown(data)} is not in the expected form${what ? `: ${what}` : ''}`);
    }
    case 'enum':
      return validationError(at, `${at} must be one of ${((p.allowedValues as unknown[]) ?? []).map((v) => JSON.stringify(v)).join(', ')}, got ${shown(data)}`);
    case 'const':
      return validationError(at, `${at} must be ${JSON.stringify(p.allowedValue)}`);
    case 'format':
      return validationError(at, `${at} must be a ${p.format}, got ${shown(data)}`);
    case 'additionalProperties':
      return validationError(join(param, String(p.additionalProperty)), `${join(param, String(p.additionalProperty))} is not a known field`);
    default:
      return validationError(at, `${at} is not valid (${e.message ?? e.keyword})`);
  }
}

/**
 * Throws the first schema error of `value` in Sphere's shape; `body` names the whole body in messages ("the
 * request body"). ajv reports the alternatives of an anyOf before the anyOf itself: the first names a field.
 */
export function checkSchema(validate: ValidateFunction, value: unknown, body = 'the request body'): void {
  if (validate(value)) return;
  const errors = validate.errors ?? [];
  const e = errors[0];
  if (!e) throw new TaxApiError(400, 'validation_errors', `${body} is not valid`);
  // One of several fields is required (amount or unit_amount): name the first, mention the others.
  if (e.keyword === 'required' && /\/anyOf\/\d+\/required$/.test(e.schemaPath)) {
    const alternatives = errors.filter((x) => x.keyword === 'required' && x.instancePath === e.instancePath).map((x) => String((x.params as Json).missingProperty));
    const parent = errors.find((x) => x.keyword === 'anyOf' && x.instancePath === e.instancePath)?.parentSchema as Json | undefined;
    const param = join(paramOf(e.instancePath), alternatives[0]!);
    const what = described((parent?.properties as Json | undefined)?.[alternatives[0]!]);
    throw validationError(param, `${param} is required${alternatives.length > 1 ? ` (or ${either(alternatives.slice(1))})` : ''}${what ? `: ${what}` : ''}`);
  }
  throw schemaError(e, body);
}
