import { TaxbridgeError } from '../errors.ts';

/**
 * The check both stores make of a putJson text: one object's JSON on one line, as JSON.stringify writes it
 * (the embedded journal is one line per row; a line break would tear it). Undefined when the text passes.
 */
export function badJsonText(collection: string, json: string): TaxbridgeError | undefined {
  if (typeof json === 'string' && json.charCodeAt(0) === 123 && !json.includes('\n') && !json.includes('\r')) return undefined;
  return new TaxbridgeError('STORE_BAD_JSON', `putJson into ${collection} needs one object's JSON on one line, as JSON.stringify writes it`);
}
