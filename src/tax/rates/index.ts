/**
 * Tax rate data: the YAML tables under src/tax/data (and any ZIP-rate CSVs under data/us-zip/, SST files under
 * data/us-sst/), in three parts:
 *   loading    ./data-file.ts (one file: YAML with positions, its schema) and ./tables.ts (every file into indexes)
 *   validation ./validate.ts (schemas/tax-data/*.schema.json, and the checks a schema cannot make)
 *   lookup     ./lookup.ts (jurisdictions and taxability on a date)
 *
 * Conventions
 * - Rates are percent decimal strings ("6.25"), never floats; arithmetic on them is src/money's, exact.
 * - Dates are "YYYY-MM-DD" strings; a row is in force on `date` when effective_from <= date and
 *   (no effective_to or date < effective_to).
 * - A bad data file fails loading with tax_data_invalid naming file:line:column and the row.
 */
import { fileURLToPath } from 'node:url';
import { taxDataOf } from './lookup.ts';
import { loadTables, type LoadTaxDataOptions } from './tables.ts';
import type { TaxData } from './types.ts';

export { importZipRateCsv } from './csv.ts';
export type { LoadTaxDataOptions } from './tables.ts';
export type { Jurisdiction, Taxability, TaxData, RateSource, UsLookup } from './types.ts';

/** The data folder next to this module (the build copies src/tax/data to dist/src/tax/data). */
const DEFAULT_DIR = fileURLToPath(new URL('../data/', import.meta.url));

export function loadTaxData(dir: string = DEFAULT_DIR, opts: LoadTaxDataOptions = {}): TaxData {
  return taxDataOf(loadTables(dir, opts));
}
