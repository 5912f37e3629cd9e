/**
 * ISO 4217 currencies and their minor-unit exponents (the number of decimal digits of the minor unit):
 * JPY 0 (no minor unit), USD 2 (cents), BHD 3 (fils), CLF 4. Source: ISO 4217 list one (SIX Group,
 * "Current currency & funds", published 2024-06-25). Fund codes and precious metals without a minor unit
 * (XAU, XAG, XDR...) are deliberately absent: nobody invoices in them.
 */

const EXPONENT_0 = ['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'];
const EXPONENT_3 = ['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'];
const EXPONENT_4 = ['CLF', 'UYW'];
const EXPONENT_2 = [
  'AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT', 'BGN', 'BMD', 'BND', 'BOB',
  'BOV', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHE', 'CHF', 'CHW', 'CNY', 'COP', 'COU', 'CRC', 'CUP',
  'CVE', 'CZK', 'DKK', 'DOP', 'DZD', 'EGP', 'ERN', 'ETB', 'EUR', 'FJD', 'FKP', 'GBP', 'GEL', 'GHS', 'GIP', 'GMD', 'GTQ',
  'GYD', 'HKD', 'HNL', 'HTG', 'HUF', 'IDR', 'ILS', 'INR', 'IRR', 'JMD', 'KES', 'KGS', 'KHR', 'KPW', 'KYD', 'KZT', 'LAK',
  'LBP', 'LKR', 'LRD', 'LSL', 'MAD', 'MDL', 'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MRU', 'MUR', 'MVR', 'MWK', 'MXN', 'MXV',
  'MYR', 'MZN', 'NAD', 'NGN', 'NIO', 'NOK', 'NPR', 'NZD', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'QAR', 'RON', 'RSD',
  'RUB', 'SAR', 'SBD', 'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP', 'SZL', 'THB',
  'TJS', 'TMT', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS', 'UAH', 'USD', 'USN', 'UYU', 'UZS', 'VED', 'VES', 'WST', 'XCD', 'YER',
  'ZAR', 'ZMW', 'ZWG',
];

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...EXPONENT_0.map((c) => [c, 0] as const),
  ...EXPONENT_2.map((c) => [c, 2] as const),
  ...EXPONENT_3.map((c) => [c, 3] as const),
  ...EXPONENT_4.map((c) => [c, 4] as const),
]);

/** Upper-cases and checks a currency code; undefined when it is not an ISO 4217 currency we know. */
export function normalizeCurrency(code: unknown): string | undefined {
  if (typeof code !== 'string' || code.length !== 3) return undefined;
  const upper = code.toUpperCase();
  return EXPONENTS.has(upper) ? upper : undefined;
}

export function isCurrency(code: unknown): boolean {
  return normalizeCurrency(code) !== undefined;
}

/** The minor-unit exponent of a currency (case-insensitive); throws RangeError for an unknown code. */
export function currencyExponent(code: string): number {
  const e = EXPONENTS.get(code.toUpperCase());
  if (e === undefined) throw new RangeError(`unknown currency ${JSON.stringify(code)}`);
  return e;
}

/** Every known currency code, sorted. */
export function currencyCodes(): string[] {
  return [...EXPONENTS.keys()].sort();
}
