/**
 * A fresh PostgreSQL database per test file: `CREATE DATABASE taxbridge_test_<random>` on the local server
 * (TAXBRIDGE_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards. When the
 * server is not reachable this throws: PostgreSQL tests fail, they never skip (.ci/run starts the server).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/store.ts';

export const ADMIN_URL = process.env.TAXBRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
  } catch (e) {
    throw new Error(`PostgreSQL tests need a server at ${ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} (start it: pg_ctlcluster --skip-systemctl-redirect 15 main start): ${(e as Error).message}`);
  }
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `taxbridge_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    async drop() {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** The URL of `db` with its connections in schema `schema` (search_path), so each store of a file starts empty. */
export function schemaUrl(db: TestDatabase, schema: string): string {
  const u = new URL(db.url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/**
 * For a test file: one database (created before its tests, dropped after), and `make()` opening a
 * PostgresStore on a new empty schema of it each call (schema migrations applied as at a replica's start).
 */
export function postgresStores(): { make(): Promise<PostgresStore>; db(): TestDatabase } {
  let db: TestDatabase | undefined;
  const open: PostgresStore[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  }, 30_000);
  afterAll(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
    await db?.drop();
  }, 30_000);
  return {
    db: () => db!,
    async make() {
      if (!db) throw new Error('the test database was not created (PostgreSQL unreachable?)');
      const schema = `s_${randomBytes(5).toString('hex')}`;
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.end();
      const store = await PostgresStore.open({ url: schemaUrl(db, schema), poolSize: 4 });
      open.push(store);
      return store;
    },
  };
}
