/** Numbers, money and dates for people: Intl, in the browser's locale. Amounts arrive as integer minor units or decimal strings (never floats). */

const DIGITS_CACHE = new Map<string, number>();

/** Minor-unit digits of a currency (USD 2, JPY 0, BHD 3) as Intl knows them. */
export function currencyDigits(currency: string): number {
  const c = currency.toUpperCase();
  let d = DIGITS_CACHE.get(c);
  if (d === undefined) {
    try {
      d = new Intl.NumberFormat('en', { style: 'currency', currency: c }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      d = 2;
    }
    DIGITS_CACHE.set(c, d);
  }
  return d;
}

/** "123456" minor units of USD -> "1234.56" (string arithmetic, no floats). */
export function minorToDecimal(minor: string | number | bigint, currency: string): string {
  const digits = currencyDigits(currency);
  let s = BigInt(minor).toString();
  const neg = s.startsWith('-');
  if (neg) s = s.slice(1);
  if (digits === 0) return (neg ? '-' : '') + s;
  s = s.padStart(digits + 1, '0');
  return `${neg ? '-' : ''}${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

/** A decimal string formatted as money of `currency` ("1234.5", "usd" -> "$1,234.50"). Intl formats decimal strings exactly. */
export function money(decimal: string | number, currency: string | undefined): string {
  const cur = (currency || 'USD').toUpperCase();
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: cur }).format(String(decimal) as unknown as number);
  } catch {
    return `${decimal} ${cur}`;
  }
}

/** Integer minor units formatted as money. */
export function moneyMinor(minor: string | number | bigint | undefined | null, currency: string | undefined): string {
  if (minor === undefined || minor === null || minor === '') return '—';
  try {
    return money(minorToDecimal(minor, currency || 'USD'), currency);
  } catch {
    return String(minor);
  }
}

export function count(n: number | undefined): string {
  return new Intl.NumberFormat().format(n ?? 0);
}

export function when(iso: string | undefined | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

export function percent(rate: string | number | undefined): string {
  if (rate === undefined || rate === null || rate === '') return '—';
  return `${rate}%`;
}

/** "12.34" in `currency` -> "1234" minor units (string arithmetic); undefined when not a plain decimal with at most the currency's digits. */
export function decimalToMinor(text: string, currency: string): string | undefined {
  const m = /^(-?)(\d{1,15})(?:\.(\d*))?$/.exec(text.trim());
  if (!m) return undefined;
  const digits = currencyDigits(currency);
  const frac = m[3] ?? '';
  if (frac.length > digits) return undefined;
  const minor = BigInt(m[2]! + frac.padEnd(digits, '0'));
  return (m[1] && minor !== 0n ? '-' : '') + minor.toString();
}
