/**
 * Calculation warnings: how an answer falls short of exact, in the response's `data.warnings` (an extra field
 * Sphere clients ignore) and in the recorded calculation. One warning per code and place per calculation.
 */
import type { UsLookup } from './rates/types.ts';
import type { TerritoryRule } from './places/territories.ts';

export type TaxWarningCode = 'local_rates_unknown' | 'local_rates_estimated' | 'territory_not_taxed';

export interface TaxWarning {
  code: TaxWarningCode;
  message: string;
  /** The address the warning is about ("customer_address", "line_items[2].ship_to"). */
  param: string;
  place?: Record<string, string>;
}

export class WarningSet {
  private readonly seen = new Map<string, TaxWarning>();
  add(w: TaxWarning): void {
    const key = `${w.code}|${w.param}|${w.place?.postal_code ?? ''}`;
    if (!this.seen.has(key) && this.seen.size < 100) this.seen.set(key, w);
  }
  list(): TaxWarning[] {
    return [...this.seen.values()];
  }
}

type Where = Record<string, string> & { state: string; postal_code: string };

const placeText = (p: Where): string => `${p.postal_code}${p.city ? ` (${p.city}${p.county ? `, ${p.county} County` : ''}, ${p.state})` : ` (${p.state})`}`;

export function localRatesUnknown(param: string, place: Where): TaxWarning {
  return {
    code: 'local_rates_unknown',
    message: `taxbridge has no local (county, city, district) rates for ${placeText(place)}: only the ${place.state} state rate was charged (rate_source state_only)`,
    param,
    place,
  };
}

export function localRatesEstimated(param: string, place: Where, found: UsLookup): TaxWarning {
  const how = found.jurs.some((j) => j.rate_source === 'zip5_estimate')
    ? 'an estimated ZIP5 rate table'
    : `the rates of the ZIP's postal ${found.jurs.some((j) => j.rate_source === 'city_table') ? 'city' : 'county'}${found.region ? ` (${found.region})` : ''}`;
  return {
    code: 'local_rates_estimated',
    message: `local rates for ${placeText(place)} come from ${how}; a ZIP can cross city and district lines, so the address's exact rate may differ (load SST boundary files for address-level rates)`,
    param,
    place,
  };
}

export function territoryNotTaxed(param: string, code: string, rule: TerritoryRule): TaxWarning {
  return { code: 'territory_not_taxed', message: `no tax charged in ${rule.name}: ${rule.reason}`, param, place: { country: 'US', state: code } };
}
