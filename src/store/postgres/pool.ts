import pg from 'pg';
import { TaxbridgeError } from '../../errors.ts';
import { checkDatabaseUrl, redactUrl } from './url.ts';

export { checkDatabaseUrl, redactUrl } from './url.ts';

/** Defaults for a replica: enough connections for the request paths, bounded so N replicas fit max_connections. */
export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export interface PoolOptions {
  /** postgres://user:password@host:port/database?... (the password never appears in errors or logs). */
  url: string;
  /** Most connections this process opens (TAXBRIDGE_DATABASE_POOL_SIZE). */
  poolSize?: number;
  /** Server-side limit per statement, so a stuck query fails instead of holding a connection. */
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** Error codes of the driver and the server that mean "the database cannot be reached (now)". */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

function codeOf(e: unknown): string {
  const c = (e as { code?: unknown } | undefined)?.code;
  if (typeof c === 'string' && c !== '') return c;
  const m = (e as Error | undefined)?.message ?? '';
  if (/timeout|timed out/i.test(m)) return 'ETIMEDOUT';
  if (/Connection terminated|connection.*closed|not queryable/i.test(m)) return 'ECONNRESET';
  return 'UNKNOWN';
}

/** Whether an error means the database is out of reach (as opposed to a bad statement or a constraint). */
export function isUnreachable(e: unknown): boolean {
  if (e instanceof TaxbridgeError) return e.code === 'STORE_UNREACHABLE';
  return UNREACHABLE.has(codeOf(e));
}

/**
 * The store's typed error for a driver or server error: STORE_UNREACHABLE (connection refused, reset,
 * timed out, server shutting down), STORE_AUTH (28xxx), STORE_NO_DATABASE (3D000), STORE_TIMEOUT (a
 * statement cancelled by statement_timeout, 57014), else STORE_DB_ERROR with the server's SQLSTATE. The
 * message names the URL without its password.
 */
export function storeError(e: unknown, url: string, doing: string): TaxbridgeError {
  if (e instanceof TaxbridgeError) return e;
  const code = codeOf(e);
  const where = redactUrl(url);
  const msg = (e as Error | undefined)?.message ?? String(e);
  const details = { code, database: where };
  if (UNREACHABLE.has(code)) {
    return new TaxbridgeError('STORE_UNREACHABLE', `cannot reach the database at ${where} (${code}) while ${doing}: ${msg}`, { hint: 'check that PostgreSQL is running and reachable at that host and port; the store reconnects by itself', details, cause: e });
  }
  if (code.startsWith('28')) return new TaxbridgeError('STORE_AUTH', `the database at ${where} refused the login (${code}): ${msg}`, { hint: 'check the user and password in the database URL', details, cause: e });
  if (code === '3D000') return new TaxbridgeError('STORE_NO_DATABASE', `the database named in ${where} does not exist: ${msg}`, { hint: 'create it (createdb) or fix the database name in the URL', details, cause: e });
  if (code === '57014') return new TaxbridgeError('STORE_TIMEOUT', `a statement on ${where} took longer than the statement timeout while ${doing}`, { hint: 'raise TAXBRIDGE_DATABASE_STATEMENT_TIMEOUT_MS or look for locks/slow queries on the server', details, cause: e });
  return new TaxbridgeError('STORE_DB_ERROR', `the database at ${where} failed while ${doing} (${code}): ${msg}`, { details, cause: e });
}

export interface OpenedPool {
  pool: pg.Pool;
  /** The URL without its password, for messages. */
  shown: string;
}

/**
 * A connection pool from a URL (pg.Pool: pure JavaScript, no native build), with a statement timeout on
 * every connection and an idle-error handler (an idle connection the server closes must not crash the
 * process). Connects once before returning, so a wrong URL fails at start with STORE_UNREACHABLE/STORE_AUTH.
 */
export async function openPool(opts: PoolOptions): Promise<OpenedPool> {
  checkDatabaseUrl(opts.url);
  const size = opts.poolSize ?? DEFAULT_POOL_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > 1000) throw new TaxbridgeError('STORE_BAD_URL', `the pool size must be an integer from 1 to 1000, not ${String(size)}`);
  const timeout = opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: size,
    statement_timeout: timeout,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: 'taxbridge',
  });
  // Errors of idle clients (server restarted): the next query reconnects; readiness learns it from that query.
  pool.on('error', () => undefined);
  const shown = redactUrl(opts.url);
  try {
    await pool.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw storeError(e, opts.url, 'connecting');
  }
  return { pool, shown };
}
