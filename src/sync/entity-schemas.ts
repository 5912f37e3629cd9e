import type { ErrorObject } from 'ajv';
import { entityValidator } from '../spec/index.ts';

/** Validators of the canonical entity schemas: the spec part's, compiled once per process. */
export const entitySchemaValidator = entityValidator;

/** "lines/0/amount must match pattern ..." for the first few errors. */
export function describeSchemaErrors(errors: ErrorObject[] | null | undefined, max = 3): string {
  if (!errors?.length) return 'does not match its entity schema';
  const parts = errors.slice(0, max).map((e) => {
    let at = e.instancePath.replace(/^\//, '') || '(record)';
    if (e.keyword === 'required') at = `${at === '(record)' ? '' : `${at}/`}${(e.params as { missingProperty: string }).missingProperty}`;
    if (e.keyword === 'additionalProperties') return `${at}: unexpected property ${(e.params as { additionalProperty: string }).additionalProperty}`;
    if (e.keyword === 'required') return `${at} is required`;
    return `${at} ${e.message ?? 'is invalid'}`;
  });
  return parts.join('; ') + (errors.length > max ? ` (+${errors.length - max} more)` : '');
}
