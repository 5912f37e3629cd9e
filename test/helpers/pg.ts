/**
 * A fresh PostgreSQL database per test file: `CREATE DATABASE taxbridge_test_<random>` on the local server
 * (TAXBRIDGE_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards. When the
 * server is not reachable this throws: PostgreSQL tests fail, they never skip (.ci/run starts the server).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

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
