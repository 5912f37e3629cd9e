import { TaxbridgeError } from '../../errors.ts';

/** The URL as it may be shown: the password replaced by `***`; an unparsable one by a fixed phrase. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable database URL)';
  }
}

/** Checks a database URL's form before connecting (STORE_BAD_URL naming what is wrong). */
export function checkDatabaseUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TaxbridgeError('STORE_BAD_URL', 'the database URL is not a URL', { hint: 'use postgres://user:password@host:5432/database' });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new TaxbridgeError('STORE_BAD_URL', `the database URL ${redactUrl(url)} must start with postgres:// or postgresql://`, { hint: 'use postgres://user:password@host:5432/database' });
  }
  if (!u.hostname && !u.searchParams.get('host')) throw new TaxbridgeError('STORE_BAD_URL', `the database URL ${redactUrl(url)} names no host`);
  return u;
}
