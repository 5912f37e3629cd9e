import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS_TABLE, type Migration } from '../src/store/postgres/migrate.ts';
import { allMigrations } from '../src/store/postgres/migrations.ts';
import { openPool, redactUrl } from '../src/store/postgres/pool.ts';
import { createTestDatabase, type TestDatabase } from './helpers/pg.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('PostgreSQL schema migrations', () => {
  it('apply once when several replicas start together, and record each version', async () => {
    const pools = await Promise.all([1, 2, 3].map(() => openPool({ url: db.url, poolSize: 2 })));
    try {
      const results = await Promise.all(pools.map((p) => migrate(p.pool, allMigrations())));
      const applied = results.flatMap((r) => r.applied);
      expect(applied.sort()).toEqual(allMigrations().map((m) => m.version).sort());
      const { rows } = await pools[0]!.pool.query(`SELECT version FROM ${MIGRATIONS_TABLE}`);
      expect(rows.map((r) => r.version).sort()).toEqual(allMigrations().map((m) => m.version).sort());
      // Again: nothing to do.
      const again = await migrate(pools[1]!.pool, allMigrations());
      expect(again.applied).toEqual([]);
      expect(again.present).toBe(allMigrations().length);
    } finally {
      await Promise.all(pools.map((p) => p.pool.end()));
    }
  });

  it('roll a failing migration back whole and name it', async () => {
    const { pool } = await openPool({ url: db.url, poolSize: 1 });
    try {
      const bad: Migration = { version: '0999-bad', description: 'half works', sql: 'CREATE TABLE half_made (x int); SELECT no_such_function();' };
      await expect(migrate(pool, [...allMigrations(), bad])).rejects.toMatchObject({ code: 'STORE_MIGRATION_FAILED', message: expect.stringContaining('0999-bad') });
      const { rows } = await pool.query(`SELECT to_regclass('half_made') AS t, (SELECT count(*) FROM ${MIGRATIONS_TABLE} WHERE version = '0999-bad')::int AS n`);
      expect(rows[0]).toEqual({ t: null, n: 0 });
    } finally {
      await pool.end();
    }
  });

  it('refuse a malformed migration list', async () => {
    const { pool } = await openPool({ url: db.url, poolSize: 1 });
    try {
      await expect(migrate(pool, [{ version: 'x', description: '', sql: '' }])).rejects.toMatchObject({ code: 'STORE_BAD_MIGRATION' });
    } finally {
      await pool.end();
    }
  });
});

describe('PostgreSQL pool errors', () => {
  it('name the URL without its password when the server is unreachable', async () => {
    const url = 'postgres://app:s3cret-pw@127.0.0.1:1/taxbridge';
    const e = await openPool({ url, connectTimeoutMs: 2000 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'STORE_UNREACHABLE' });
    expect(String((e as Error).message)).toContain('postgres://app:***@127.0.0.1:1/taxbridge');
    expect(JSON.stringify(e)).not.toContain('s3cret-pw');
    expect(String((e as Error).message)).not.toContain('s3cret-pw');
  });

  it('tell a missing database and a bad URL apart', async () => {
    const u = new URL(db.url);
    u.pathname = '/taxbridge_no_such_db';
    await expect(openPool({ url: u.toString() })).rejects.toMatchObject({ code: 'STORE_NO_DATABASE' });
    await expect(openPool({ url: 'mysql://x@y/z' })).rejects.toMatchObject({ code: 'STORE_BAD_URL' });
    expect(redactUrl('postgres://u:p@h/d')).toBe('postgres://u:***@h/d');
  });
});
