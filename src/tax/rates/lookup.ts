/**
 * Lookups over the loaded rate tables (./tables.ts): the US jurisdictions of a ZIP with how precise they
 * are, state and local taxability, VAT/GST by country and Canada by province. Results are the tables' frozen
 * jurisdictions; a jurisdiction whose rate is "0" is left out (so a no-sales-tax state gives []).
 */
import { isIsoDate } from '../geo.ts';
import { pick } from './periods.ts';
import type { TaxTables } from './tables.ts';
import type { Jurisdiction, TaxData, UsLookup } from './types.ts';
import { stateForZip } from './zip3.ts';

function checkDateArg(date: string): void {
  if (!isIsoDate(date)) throw new RangeError(`tax lookup date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
}

const upper = (s: string | undefined | null): string => String(s ?? '').trim().toUpperCase();

export function taxDataOf(t: TaxTables): TaxData {
  const { states, localYaml, localCsv, places, zipPlaces, sst, taxRows, defaults, countries, eu, federal, provinces } = t;
  const covered = [...new Set([...countries.keys(), 'CA', 'US'])].sort();
  const uniformLocals = (st: string, date: string): Jurisdiction[] => places?.uniformLocals(st, date) ?? [];

  /**
   * The US lookup, most precise source first: SST boundary files (ZIP+4, then ZIP5), operator ZIP5 tables,
   * hand-kept ZIP rows, the ZIP's place (city row, then county row), then what the state's layout allows:
   * no local taxes -> the state rate is complete; otherwise state only, local part unknown.
   */
  function usLookup(state: string, zip: string | undefined, date: string, plus4?: string): UsLookup | undefined {
    checkDateArg(date);
    const st = upper(state);
    const sr = pick(states.get(st), date);
    if (!sr) return undefined;
    const stateJur = (complete: boolean): Jurisdiction[] => (sr.rate === '0' ? [] : [(complete ? sr.jur : sr.jurOnly) as Jurisdiction]);
    // Alaska: no state tax, but boroughs and cities levy their own; us-places.yaml says so where it knows.
    const structure = places?.localTaxes(st) ?? (sr.noSalesTax ? 'none' : undefined);
    if (zip === undefined || zip === null || String(zip).trim() === '') {
      return structure === 'none' ? { jurs: stateJur(true), local: 'complete' } : { jurs: stateJur(false), local: 'unknown' };
    }
    const m = /^(\d{5})(?:-?(\d{4}))?$/.exec(String(zip).trim());
    if (!m) return undefined;
    const z = m[1]!;
    const p4 = plus4 ?? m[2];
    const known = localCsv.get(z) ?? localYaml.get(z);
    const place = zipPlaces?.get(z);
    if (known) {
      if (known[0]!.state !== st) return undefined;
    } else if (place) {
      if (place.state !== st) return undefined;
    } else if (stateForZip(z) !== st) {
      return undefined;
    }
    const withLocals = (locals: readonly Jurisdiction[], local: UsLookup['local'], region?: string): UsLookup => {
      const out = stateJur(true);
      for (const j of locals) out.push(j);
      return { jurs: out, local, ...(place ? { place } : {}), ...(region ? { region } : {}) };
    };
    const fromSst = sst?.lookup(st, z, p4, date);
    if (fromSst) return withLocals(fromSst, 'complete');
    const csv = pick(localCsv.get(z), date);
    if (csv) return withLocals(csv.jurs as Jurisdiction[], 'estimated');
    const yaml = pick(localYaml.get(z), date);
    if (yaml) return withLocals(yaml.jurs as Jurisdiction[], 'complete');
    if (structure === 'none') return withLocals(uniformLocals(st, date), 'complete');
    const hit = place && places?.lookup(place, date);
    if (hit) return withLocals([...uniformLocals(st, date), ...hit.jurs], 'estimated', hit.region);
    const uniform = uniformLocals(st, date);
    if (uniform.length) return withLocals(uniform, 'complete');
    return { jurs: stateJur(false), local: 'unknown', ...(place ? { place } : {}) };
  }

  return {
    asOf: t.asOf,

    usJurisdictions(state, zip, date) {
      return usLookup(state, zip, date)?.jurs;
    },

    usLookup,

    localTaxability(state, jurisdiction, taxCode, date) {
      const found = places?.taxability(state, jurisdiction, taxCode, date);
      return found ? { ...found } : undefined;
    },

    productTaxes(place, taxCode, date) {
      return place && places ? places.productTaxes(place, taxCode, date) : [];
    },

    usTaxability(state, taxCode, date) {
      checkDateArg(date);
      const st = upper(state);
      const code = String(taxCode ?? '').trim().toLowerCase();
      const sr = pick(states.get(st), date) ?? states.get(st)?.[0];
      if (!sr) return { treatment: 'exempt', taxable_percent: '0', reason: `No tax data for US state "${state}".`, source: 'taxbridge data', verified: false };
      if (sr.noSalesTax) {
        return { treatment: 'exempt', taxable_percent: '0', reason: `${sr.name} has no state sales tax${st === 'AK' ? ' (some Alaska boroughs and cities levy local sales taxes; not covered by this data)' : ''}.`, source: 'us-states.yaml' };
      }
      const row = pick(taxRows.get(`${st}|${code}`), date);
      if (row) return { ...row.value };
      const def = defaults.get(code);
      if (def) return { ...def };
      const general = defaults.get('general')!;
      return { ...general, reason: `Unknown tax code "${taxCode}"; treated as general tangible goods. ${general.reason}` };
    },

    countryJurisdictions(country, region, date) {
      checkDateArg(date);
      const c = upper(country);
      if (c === 'CA') {
        const fed = pick(federal, date);
        if (!fed) return undefined;
        const reg = upper(region);
        if (reg === '') return [...(fed.jurs as Jurisdiction[])];
        const prov = pick(provinces.get(reg), date);
        if (!prov) return undefined;
        return prov.jurs.filter((j) => j.rate !== '0') as Jurisdiction[];
      }
      const rec = pick(countries.get(c), date);
      return rec ? (rec.jurs.filter((j) => j.rate !== '0') as Jurisdiction[]) : undefined;
    },

    isEu(country) {
      return eu.has(upper(country));
    },

    caDigitalTaxable(province) {
      const rows = provinces.get(upper(province));
      if (!rows) return false;
      return [...rows].sort((a, b) => (a.from < b.from ? 1 : -1))[0]!.digital;
    },

    coveredCountries() {
      return [...covered];
    },
  };
}
