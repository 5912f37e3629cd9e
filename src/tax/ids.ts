import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `n` characters of base62 from the CSPRNG (rejection sampling: no modulo bias). ~5.95 bits each. */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    const buf = randomBytes(n * 2);
    for (const b of buf) {
      if (b < 248) out += ALPHABET[b % 62]; // 248 = 4 x 62
      if (out.length === n) break;
    }
  }
  return out;
}

/** A document id such as "org_3kTt0a9XbQe1Lm2P". */
export function newId(prefix: string, length = 16): string {
  return `${prefix}_${randomBase62(length)}`;
}
