/**
 * The store a bench writes to: the embedded store in a temporary folder (default), or PostgreSQL in a
 * database created for the run (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres) and
 * dropped after. `BENCH_STORE=postgres` on bench:tax and bench:webhooks runs the bench twice, each store in
 * a child process of its own (runOnBothStores), and prints both results side by side, the last line one
 * JSON object.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Store } from '../../src/store/types.ts';

const PG_ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Which store this (child) run uses: BENCH_STORE_ONE, set by runOnBothStores. */
export function benchStoreKind(): 'embedded' | 'postgres' {
  return process.env.BENCH_STORE_ONE === 'postgres' ? 'postgres' : 'embedded';
}

export async function openBenchStore(kind = benchStoreKind()): Promise<{ store: Store; kind: string; cleanup(): Promise<void> }> {
  if (kind === 'postgres') {
    const pg = (await import('pg')).default;
    const name = `taxbridge_bench_${process.pid}_${Date.now()}`;
    const admin = async (sql: string) => {
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    };
    await admin(`CREATE DATABASE ${name}`);
    const u = new URL(PG_ADMIN);
    u.pathname = `/${name}`;
    const { PostgresStore } = await import('../../src/store/postgres/store.ts');
    const store = await PostgresStore.open({ url: u.toString() });
    return { store, kind: 'postgres (fresh database on the local server)', cleanup: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  }
  const { openStore } = await import('../../src/store/index.ts');
  const dir = await mkdtemp(join(tmpdir(), 'taxbridge-bench-store-'));
  const store = await openStore({ dir });
  return { store, kind: 'embedded (openStore, temp folder)', cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs the bench at `script` once per store, each in a child process; prints both result lines and a combined one. */
export async function runOnBothStores(script: string, bench: string): Promise<void> {
  const results: Record<string, unknown> = {};
  for (const kind of ['embedded', 'postgres'] as const) {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(script)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BENCH_STORE: '', BENCH_STORE_ONE: kind } });
    let last = '';
    for await (const line of createInterface({ input: child.stdout! })) {
      process.stdout.write(`[${kind}] ${line}\n`);
      if (line.startsWith('{')) last = line;
    }
    const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('exit', r)));
    if (code !== 0 || !last) throw new Error(`bench:${bench} on ${kind} failed (exit ${code})`);
    results[kind] = JSON.parse(last);
  }
  process.stdout.write(`${JSON.stringify({ bench, stores: ['embedded', 'postgres'], ...results })}\n`);
}
