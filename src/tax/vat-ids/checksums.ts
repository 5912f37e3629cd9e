/**
 * Format and check-digit rules of customer VAT/GST ids, per issuing country, after python-stdnum
 * (arthurdejong/python-stdnum, the `vat`/`abn`/`gstin` modules). Each rule takes the compact number without
 * its country prefix (upper case, no separators) and says whether it is well formed. Test vectors:
 * test/fixtures/vat-ids/ (the numbers python-stdnum's own tests hold valid).
 */

type Rule = (n: string) => boolean;

const digits = (n: string, min: number, max = min): boolean => n.length >= min && n.length <= max && /^\d+$/.test(n);
const d = (n: string, i: number): number => n.charCodeAt(i) - 48;
function weighted(n: string, weights: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < weights.length; i++) s += weights[i]! * d(n, i);
  return s;
}
const mod = (a: number, m: number): number => ((a % m) + m) % m;

const ALNUM36 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Luhn checksum over an alphabet (base 10 for digits, 36 for GSTIN); 0 = valid. */
function luhnChecksum(n: string, alphabet = ALNUM36.slice(0, 10)): number {
  const base = alphabet.length;
  let s = 0;
  for (let i = 0; i < n.length; i++) {
    const v = alphabet.indexOf(n[n.length - 1 - i]!);
    if (v < 0) return -1;
    if (i % 2 === 0) s += v;
    else {
      const x = v * 2;
      s += Math.floor(x / base) + (x % base);
    }
  }
  return s % base;
}
const luhnValid = (n: string): boolean => luhnChecksum(n) === 0;
const luhnCheckDigit = (n: string): string => String(mod(-luhnChecksum(`${n}0`), 10));

/** ISO 7064 Mod 11, 10 (DE, HR). */
function mod11_10(n: string): boolean {
  let check = 5;
  for (let i = 0; i < n.length; i++) check = (((check || 10) * 2) % 11 + d(n, i)) % 10;
  return check === 1;
}

/** ISO 7064 Mod 97, 10 over letters-as-numbers (A = 10 ... Z = 35). */
function mod97_10(s: string): boolean {
  let r = 0;
  for (const c of s) {
    const v = ALNUM36.indexOf(c);
    if (v < 0) return false;
    for (const ch of String(v)) r = (r * 10 + (ch.charCodeAt(0) - 48)) % 97;
  }
  return r === 1;
}

const at: Rule = (n) => /^U\d{8}$/.test(n) && String(mod(6 - luhnChecksum(n.slice(1, 8)), 10)) === n[8];
const be: Rule = (n) => {
  if (n.length === 9) n = `0${n}`; // old 9-digit numbers
  return digits(n, 10) && (n[0] === '0' || n[0] === '1') && Number(n) > 0 && (Number(n.slice(0, 8)) + Number(n.slice(8))) % 97 === 0;
};
const bg: Rule = (n) => {
  if (digits(n, 9)) {
    let c = 0;
    for (let i = 0; i < 8; i++) c += (i + 1) * d(n, i);
    c %= 11;
    if (c === 10) {
      c = 0;
      for (let i = 0; i < 8; i++) c += (i + 3) * d(n, i);
      c %= 11;
    }
    return c % 10 === d(n, 8);
  }
  if (!digits(n, 10)) return false;
  const egn = (weighted(n, [2, 4, 8, 5, 10, 9, 7, 3, 6]) % 11) % 10 === d(n, 9);
  const pnf = weighted(n, [21, 19, 17, 13, 11, 9, 7, 3, 1]) % 10 === d(n, 9);
  const other = mod(11 - weighted(n, [4, 3, 2, 7, 6, 5, 4, 3, 2]), 11) === d(n, 9);
  return egn || pnf || other;
};
const cy: Rule = (n) => {
  if (!/^\d{8}[A-Z]$/.test(n) || n.startsWith('12')) return false;
  const t = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21];
  let s = 0;
  for (let i = 0; i < 8; i++) s += i % 2 === 0 ? t[d(n, i)]! : d(n, i);
  return 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[s % 26] === n[8];
};
const cz: Rule = (n) => {
  if (!digits(n, 8, 10)) return false;
  if (n.length === 8) {
    if (n[0] === '9') return false;
    let c = 0;
    for (let i = 0; i < 7; i++) c += (8 - i) * d(n, i);
    c = mod(11 - c, 11);
    return String((c || 1) % 10) === n[7];
  }
  if (n.length === 9 && n[0] === '6') {
    let c = 0;
    for (let i = 1; i < 8; i++) c += (8 - (i - 1)) * d(n, i);
    c %= 11;
    return String(mod(8 - mod(10 - c, 11), 10)) === n[8];
  }
  // Birth numbers (rodné číslo): 9 digits before 1954, else 10 digits divisible by 11 (remainder 10 -> 0).
  if (n.length === 9) return true;
  const r = Number(n.slice(0, 9)) % 11;
  return (r === 10 ? 0 : r) === d(n, 9);
};
const de: Rule = (n) => digits(n, 9) && n[0] !== '0' && mod11_10(n);
const dk: Rule = (n) => digits(n, 8) && n[0] !== '0' && weighted(n, [2, 7, 6, 5, 4, 3, 2, 1]) % 11 === 0;
const ee: Rule = (n) => digits(n, 9) && weighted(n, [3, 7, 1, 3, 7, 1, 3, 7, 1]) % 10 === 0;
const el: Rule = (n) => {
  if (n.length === 8) n = `0${n}`;
  if (!digits(n, 9)) return false;
  let c = 0;
  for (let i = 0; i < 8; i++) c = c * 2 + d(n, i);
  return ((c * 2) % 11) % 10 === d(n, 8);
};
const DNI = 'TRWAGMYFPDXBNJZSQVHLCKE';
const es: Rule = (n) => {
  if (n.length !== 9 || !/^\d{7}$/.test(n.slice(1, 8))) return false;
  const first = n[0]!;
  const last = n[8]!;
  if ('KLM'.includes(first)) return DNI[Number(n.slice(1, 8)) % 23] === last;
  if (/\d/.test(first)) return DNI[Number(n.slice(0, 8)) % 23] === last;
  if ('XYZ'.includes(first)) return DNI[Number(`${'XYZ'.indexOf(first)}${n.slice(1, 8)}`) % 23] === last;
  if (!'ABCDEFGHJNPQRSUVW'.includes(first)) return false;
  const c = luhnCheckDigit(n.slice(1, 8));
  return last === c || last === 'JABCDEFGHI'[Number(c)];
};
const fi: Rule = (n) => digits(n, 8) && weighted(n, [7, 9, 10, 5, 8, 4, 2, 1]) % 11 === 0;
const FR_KEYS = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const fr: Rule = (n) => {
  if (n.length !== 11 || !FR_KEYS.includes(n[0]!) || !FR_KEYS.includes(n[1]!) || !/^\d{9}$/.test(n.slice(2))) return false;
  if (n.slice(2, 5) !== '000' && !luhnValid(n.slice(2))) return false; // the SIREN (Monaco numbers are not SIRENs)
  if (/^\d{2}/.test(n)) return Number(n.slice(0, 2)) === Number(`${n.slice(2)}12`) % 97;
  const check = /\d/.test(n[0]!) ? FR_KEYS.indexOf(n[0]!) * 24 + FR_KEYS.indexOf(n[1]!) - 10 : FR_KEYS.indexOf(n[0]!) * 34 + FR_KEYS.indexOf(n[1]!) - 100;
  return (Number(n.slice(2)) + 1 + Math.floor(check / 11)) % 11 === check % 11;
};
const hr: Rule = (n) => digits(n, 11) && mod11_10(n);
const hu: Rule = (n) => digits(n, 8) && weighted(n, [9, 7, 3, 1, 9, 7, 3, 1]) % 10 === 0;
const IE = 'WABCDEFGHIJKLMNOPQRSTUV';
const ieCheck = (seven: string, extra: string): string => {
  const s = seven.padStart(7, '0');
  let c = 0;
  for (let i = 0; i < 7; i++) c += (8 - i) * d(s, i);
  return IE[(c + 9 * (extra ? IE.indexOf(extra) : 0)) % 23]!;
};
const ie: Rule = (n) => {
  if (n.length !== 8 && n.length !== 9) return false;
  if (!/^\d/.test(n) || !/^\d{5}$/.test(n.slice(2, 7)) || ![...n.slice(7)].every((c) => IE.includes(c))) return false;
  if (/^\d{7}$/.test(n.slice(0, 7))) return n[7] === ieCheck(n.slice(0, 7), n.slice(8));
  if ('ABCDEFGHIJKLMNOPQRSTUVWXYZ+*'.includes(n[1]!)) return n.length === 8 && n[7] === ieCheck(n.slice(2, 7) + n[0], '');
  return false;
};
const it: Rule = (n) => {
  if (!digits(n, 11) || Number(n.slice(0, 7)) === 0) return false;
  const p = n.slice(7, 10);
  if (!(('001' <= p && p <= '100') || ['120', '121', '888', '999'].includes(p))) return false;
  return luhnValid(n);
};
const lt: Rule = (n) => {
  if (!(digits(n, 9) && n[7] === '1') && !(digits(n, 12) && n[10] === '1')) return false;
  const body = n.slice(0, -1);
  let c = 0;
  for (let i = 0; i < body.length; i++) c += (1 + (i % 9)) * d(body, i);
  c %= 11;
  if (c === 10) {
    c = 0;
    for (let i = 0; i < body.length; i++) c += (1 + ((i + 2) % 9)) * d(body, i);
  }
  return (c % 11) % 10 === d(n, n.length - 1);
};
const lu: Rule = (n) => digits(n, 8) && Number(n.slice(0, 6)) % 89 === Number(n.slice(6));
const lv: Rule = (n) => {
  if (!digits(n, 11)) return false;
  if (n[0]! > '3') return weighted(n, [9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1]) % 11 === 3;
  // Personal codes: check digit over the first ten (dates of birth not checked).
  return ((1 + weighted(n, [10, 5, 8, 4, 2, 1, 6, 3, 7, 9])) % 11) % 10 === d(n, 10);
};
const mt: Rule = (n) => digits(n, 8) && n[0] !== '0' && weighted(n, [3, 4, 6, 7, 8, 9, 10, 1]) % 37 === 0;
const nl: Rule = (n) => {
  if (/^\d{1,9}B\d{2}$/.test(n)) n = n.slice(0, -3).padStart(9, '0') + n.slice(-3);
  if (!/^\d{9}B\d{2}$/.test(n) || Number(n.slice(0, 9)) <= 0 || Number(n.slice(10)) <= 0) return false;
  const bsn = mod(weighted(n, [9, 8, 7, 6, 5, 4, 3, 2]) - d(n, 8), 11) === 0;
  return bsn || mod97_10(`NL${n}`);
};
const pl: Rule = (n) => digits(n, 10) && mod(weighted(n, [6, 5, 7, 2, 3, 4, 5, 6, 7, -1]), 11) === 0;
const pt: Rule = (n) => digits(n, 9) && n[0] !== '0' && (mod(11 - weighted(n, [9, 8, 7, 6, 5, 4, 3, 2]), 11) % 10) === d(n, 8);
const ro: Rule = (n) => {
  // A personal number (CNP), 13 digits.
  if (digits(n, 13)) {
    const c = weighted(n, [2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9]) % 11;
    return (c === 10 ? 1 : c) === d(n, 12);
  }
  if (!digits(n, 2, 10) || n[0] === '0') return false;
  const body = n.slice(0, -1).padStart(9, '0');
  return ((10 * weighted(body, [7, 5, 3, 2, 1, 7, 5, 3, 2])) % 11) % 10 === d(n, n.length - 1);
};
const se: Rule = (n) => digits(n, 12) && n.endsWith('01') && luhnValid(n.slice(0, 10));
const si: Rule = (n) => {
  if (!digits(n, 8) || n[0] === '0') return false;
  const c = 11 - (weighted(n, [8, 7, 6, 5, 4, 3, 2]) % 11);
  return (c === 10 ? '0' : String(c)) === n[7];
};
const sk: Rule = (n) => {
  if (!digits(n, 10)) return false;
  if (Number(n) % 11 === 0 && n[0] !== '0' && '234789'.includes(n[2]!)) return true;
  // Birth numbers are accepted too (divisible by 11).
  const r = Number(n.slice(0, 9)) % 11;
  return (r === 10 ? 0 : r) === d(n, 9);
};
const gbChecksum = (n: string): number => weighted(n, [8, 7, 6, 5, 4, 3, 2, 10, 1]) % 97;
const gb: Rule = (n) => {
  if (/^GD\d{3}$/.test(n)) return Number(n.slice(2)) < 500;
  if (/^HA\d{3}$/.test(n)) return Number(n.slice(2)) >= 500;
  if (!digits(n, 9) && !digits(n, 12)) return false;
  const c = gbChecksum(n.slice(0, 9));
  return Number(n.slice(0, 3)) >= 100 ? c === 0 || c === 42 || c === 55 : c === 0;
};
const no: Rule = (n) => {
  const core = n.endsWith('MVA') ? n.slice(0, -3) : n;
  return digits(core, 9) && weighted(core, [3, 2, 7, 6, 5, 4, 3, 2, 1]) % 11 === 0;
};
const ch: Rule = (n) => {
  const m = /^(?:CHE)?(\d{9})(MWST|TVA|IVA|TPV)?$/.exec(n);
  if (!m) return false;
  const c = mod(11 - weighted(m[1]!, [5, 4, 3, 2, 7, 6, 5, 4]), 11);
  return c !== 10 && c === d(m[1]!, 8);
};
const au: Rule = (n) => {
  if (!digits(n, 11) || n[0] === '0') return false;
  const w = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
  let s = (d(n, 0) - 1) * w[0]!;
  for (let i = 1; i < 11; i++) s += w[i]! * d(n, i);
  return s % 89 === 0;
};
/** GST state codes (01-38 and 97 "other territory", 99 "centre jurisdiction"). */
const in_: Rule = (n) => {
  if (!/^\d{2}[A-Z]{5}\d{4}[A-Z][0-9A-Z]Z[0-9A-Z]$/.test(n)) return false;
  const st = Number(n.slice(0, 2));
  if (!((st >= 1 && st <= 38) || st === 97 || st === 99) || n[12] === '0') return false;
  return luhnChecksum(n, ALNUM36) === 0;
};

/** Rules by the prefix a VAT id carries (EL for Greece, XI for Northern Ireland), and by country for ids without one. */
export const TAX_ID_RULES: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ['AT', at], ['BE', be], ['BG', bg], ['CY', cy], ['CZ', cz], ['DE', de], ['DK', dk], ['EE', ee], ['EL', el], ['ES', es],
  ['FI', fi], ['FR', fr], ['HR', hr], ['HU', hu], ['IE', ie], ['IT', it], ['LT', lt], ['LU', lu], ['LV', lv], ['MT', mt],
  ['NL', nl], ['PL', pl], ['PT', pt], ['RO', ro], ['SE', se], ['SI', si], ['SK', sk],
  ['GB', gb], ['XI', gb], ['NO', no], ['CH', ch], ['AU', au], ['IN', in_],
]);
