import type pg from 'pg';
import { TaxbridgeError } from '../../errors.ts';

/**
 * One schema change. `version` orders migrations (compared as strings: zero-padded numbers, e.g.
 * `0001-documents`; a part adds its own range, e.g. `0100-replicas-...`) and is recorded once applied;
 * never edit an applied migration, add a new one.
 */
export interface Migration {
  version: string;
  description: string;
  /** Statements run in one transaction with the version's record. */
  sql: string;
}

/** Where applied versions are recorded. */
export const MIGRATIONS_TABLE = 'taxbridge_migrations';
/** pg_advisory_lock key held while migrating ("taxbridg" as 8 bytes), so replicas starting together take turns. */
export const MIGRATION_LOCK_KEY = 0x7461786272696467n;

export interface MigrateResult {
  applied: string[];
  /** Versions already applied before this run. */
  present: number;
  /** Versions recorded in the database that this program does not know (a newer version migrated it). */
  unknown: string[];
}

function checkList(list: readonly Migration[]): Migration[] {
  const seen = new Set<string>();
  for (const m of list) {
    if (!/^[0-9]{4}-[a-z0-9-]{1,80}$/.test(m.version)) throw new TaxbridgeError('STORE_BAD_MIGRATION', `migration version ${JSON.stringify(m.version)} must look like 0001-what-it-does`);
    if (seen.has(m.version)) throw new TaxbridgeError('STORE_BAD_MIGRATION', `migration ${m.version} is listed twice`);
    seen.add(m.version);
  }
  return [...list].sort((a, b) => (a.version < b.version ? -1 : 1));
}

/**
 * Applies the migrations not applied yet, each in its own transaction with its record, under a
 * session-level advisory lock: a second replica starting at the same moment waits, then finds them applied
 * and does nothing (idempotent). A failed migration rolls back whole and is retried at the next start.
 */
export async function migrate(pool: pg.Pool, list: readonly Migration[]): Promise<MigrateResult> {
  const ordered = checkList(list);
  const client = await pool.connect();
  try {
    // A migration may take longer than the statement timeout meant for requests.
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version text COLLATE "C" PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ version: string }>(`SELECT version FROM ${MIGRATIONS_TABLE}`);
      const done = new Set(rows.map((r) => r.version));
      const applied: string[] = [];
      for (const m of ordered) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, description) VALUES ($1, $2)`, [m.version, m.description]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new TaxbridgeError('STORE_MIGRATION_FAILED', `schema migration ${m.version} (${m.description}) failed: ${(e as Error).message}`, { hint: 'nothing of it was kept; fix the cause and start again', details: { version: m.version }, cause: e });
        }
        applied.push(m.version);
      }
      const known = new Set(ordered.map((m) => m.version));
      return { applied, present: done.size, unknown: [...done].filter((v) => !known.has(v)).sort() };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}
