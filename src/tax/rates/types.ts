/**
 * The shapes of the rate data as the engine sees them (loading: ./tables.ts, ./places.ts, ./sst.ts, ./csv.ts;
 * lookup: ./lookup.ts).
 */
import type { ZipPlace } from '../places/zip-places.ts';

/**
 * Where a jurisdiction's rate comes from, i.e. how precise the answer is (on the wire as `rate_source`):
 * - `sst_boundary`: an operator-loaded Streamlined Sales Tax boundary + rate file (ZIP+4 or ZIP5 match);
 * - `zip5_estimate`: an operator-loaded ZIP5 rate table (estimated by its publisher);
 * - `zip_table`: a hand-kept row for this very ZIP (src/tax/data/us-local.yaml);
 * - `city_table` / `county_table`: the rates of the ZIP's postal city / county (us-places.yaml), an estimate:
 *   ZIPs cross city limits;
 * - `state_table`: the state's rate where the state rate is the whole answer (no local taxes, or uniform ones);
 * - `state_only`: the state's rate while the local part is unknown (with a `local_rates_unknown` warning);
 * - `country_table` / `province_table`: VAT/GST and Canadian provincial taxes.
 */
export type RateSource =
  | 'sst_boundary'
  | 'zip5_estimate'
  | 'zip_table'
  | 'city_table'
  | 'county_table'
  | 'state_table'
  | 'state_only'
  | 'country_table'
  | 'province_table';

export interface Jurisdiction {
  level: 'country' | 'state' | 'county' | 'city' | 'special' | 'province';
  name: string;
  country: string;
  state?: string;
  rate: string;
  tax_type: 'sales_tax' | 'vat' | 'gst' | 'hst' | 'pst' | 'qst' | 'rst' | 'lease_tax';
  display_name: string;
  /** How the rate was found (see RateSource); every loaded jurisdiction has one. */
  rate_source?: RateSource;
}

export interface Taxability {
  treatment: 'taxable' | 'exempt' | 'partial';
  /** Share of the price that is taxed, percent string: "100", "80", "0". */
  taxable_percent: string;
  reason: string;
  source: string;
  /**
   * Only where a state taxes the item at a special rate instead of its general rate (Connecticut: 1% on
   * computer and data processing services). taxable_percent is then set so that state rate x taxable_percent
   * gives this rate, but an engine that can should apply rate_override to the state jurisdiction directly.
   */
  rate_override?: string;
  /** false when the row rests on secondary sources only (see the reason/source text). */
  verified?: boolean;
}

/** A US lookup: the jurisdictions (state first) and how complete the local part is. */
export interface UsLookup {
  jurs: Jurisdiction[];
  /** complete: every local tax is known (or there are none); estimated: chosen by the ZIP's place or an estimated table; unknown: state only. */
  local: 'complete' | 'estimated' | 'unknown';
  /** The ZIP's place (postal city, county) when the ZIP table has it. */
  place?: ZipPlace;
  /** The rate row's region ("Austin"), when one applied. */
  region?: string;
}

export interface TaxData {
  asOf: string;
  /** US: state + local jurisdictions for a ZIP (5-digit; ZIP+4 accepted) on a date; state-only when the ZIP is unknown. undefined when the state is unknown or the ZIP does not belong to the state. */
  usJurisdictions(state: string, zip: string | undefined, date: string): Jurisdiction[] | undefined;
  /** US with precision: as usJurisdictions, saying whether the local part is complete, estimated or unknown. ZIP+4 is used by SST boundary files. */
  usLookup(state: string, zip: string | undefined, date: string, plus4?: string): UsLookup | undefined;
  usTaxability(state: string, taxCode: string, date: string): Taxability;
  /** A local jurisdiction's own taxability of a tax code where it differs from its state's (Denver SaaS); undefined = follows the state. */
  localTaxability(state: string, jurisdiction: string, taxCode: string, date: string): Taxability | undefined;
  /** Local taxes on this tax code only at a place (Chicago's lease transaction tax on SaaS). */
  productTaxes(place: ZipPlace | undefined, taxCode: string, date: string): readonly Jurisdiction[];
  /** VAT/GST (or Canada's GST+HST/PST/QST by province) in force on date; undefined when the country is not covered. */
  countryJurisdictions(country: string, region: string | undefined, date: string): Jurisdiction[] | undefined;
  isEu(country: string): boolean;
  /** Whether digital services/SaaS are taxed by a Canadian province's PST/QST. */
  caDigitalTaxable(province: string): boolean;
  coveredCountries(): string[];
}
