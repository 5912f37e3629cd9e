/**
 * `npm run bench:store-verify`: what verifying a data folder at `taxbridge serve` start costs. A folder with
 * 20,000 synced invoices (about 3.5 KB each, data + raw, as a Sequence sync stores them) and 2,000 webhook
 * events is written once; then, in the same run,
 *   (a) baseline: reading every table file's bytes (fs.readFile, nothing parsed),
 *   (b) openStore({ verify: true }): what the start does (collections opened, entity tables scanned
 *       streaming, every line and value JSON.parse'd, rows not kept),
 *   (c) loading the invoice table fully without verification (a CLI command touching it: rows kept, values
 *       JSON.parse'd on open),
 *   (d) (b) then the first use of the invoice table (a serve start, then its first sync: values verified
 *       at start are not parsed again).
 * Each is run 3 times, best kept. Progress lines, then one JSON object as the last line.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tablesOnDisk } from '../src/store/check.ts';
import { openStore } from '../src/store/index.ts';

const INVOICES = Number(process.env.BENCH_INVOICES ?? 20_000);
const EVENTS = 2_000;
const PAGE = 100;

/** Heap in use after a collection when run with --expose-gc (the npm script passes it). */
function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function invoice(i: number): { data: Record<string, unknown>; raw: Record<string, unknown> } {
  const lines = Array.from({ length: 5 }, (_, l) => ({
    id: `li_${i}_${l}`,
    description: `Platform subscription seat tier ${l} for account ${i}`,
    quantity: '1',
    unit_amount: `${(i % 500) + l}.00`,
    amount: `${(i % 500) + l}.00`,
    product_id: `prod_${l}`,
    tax_code: 'saas',
  }));
  const data = { id: `inv_${i}`, number: `INV-${i}`, customer_id: `cus_${i % 200}`, currency: 'USD', status: 'final', issued_at: '2026-01-01T00:00:00Z', subtotal: `${i % 5000}.00`, lines };
  return { data, raw: { ...data, lineItems: lines.map((li) => ({ ...li, metadata: { source: 'bench', seq: i } })) } };
}

async function best<T>(runs: number, fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  let out: { ms: number; value: T } | undefined;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const value = await fn();
    const ms = performance.now() - t0;
    if (!out || ms < out.ms) out = { ms, value };
  }
  return out!;
}

const dir = await mkdtemp(join(tmpdir(), 'tb-bench-verify-'));
try {
  log(`writing ${INVOICES} invoices and ${EVENTS} webhook events to ${dir}`);
  const w = await openStore({ dir });
  for (let p = 0; p < INVOICES / PAGE; p++) {
    const writes = Array.from({ length: PAGE }, (_, k) => ({ external_id: `inv_${p * PAGE + k}`, ...invoice(p * PAGE + k) }));
    await w.commitPage({ connectionId: 'conn_bench', stream: 'invoices', entity: 'invoice', writes, checkpoint: { id: 'conn_bench:invoices', value: { page: p } } });
  }
  for (let e = 0; e < EVENTS; e++) await w.put('webhook_events', `evt_${e}`, { id: `evt_${e}`, status: 'processed', body: 'x'.repeat(400) });
  await w.close();

  const heapBase = heapUsed();
  const files = (await tablesOnDisk(dir)).flatMap((t) => [`${t.base}.jsonl`, `${t.base}.journal`]);
  const raw = await best(3, async () => {
    let bytes = 0;
    for (const f of files) bytes += (await readFile(f).catch(() => Buffer.alloc(0))).length;
    return bytes;
  });
  log(`(a) read every table file: ${raw.value} bytes in ${raw.ms.toFixed(0)} ms`);

  const rssBefore = process.memoryUsage().rss;
  const verify = await best(3, async () => {
    const s = await openStore({ dir, verify: true });
    const heap = heapUsed();
    await s.close();
    return heap;
  });
  log(`(b) openStore verify (the serve start): ${verify.ms.toFixed(0)} ms, heap after ${(verify.value / 1e6).toFixed(0)} MB`);

  const load = await best(3, async () => {
    const s = await openStore({ dir });
    const n = (await s.countEntities('conn_bench', 'invoices')).active;
    const heap = heapUsed();
    await s.close();
    if (n !== INVOICES) throw new Error(`expected ${INVOICES} invoices, found ${n}`);
    return heap;
  });
  log(`(c) full load of the invoice table: ${load.ms.toFixed(0)} ms, heap after ${(load.value / 1e6).toFixed(0)} MB`);

  const served = await best(3, async () => {
    const s = await openStore({ dir, verify: true });
    await s.countEntities('conn_bench', 'invoices');
    await s.close();
  });
  log(`(d) verify, then the first use of the invoice table (serve: start + first sync): ${served.ms.toFixed(0)} ms`);

  process.stdout.write(
    `${JSON.stringify({
      bench: 'store-verify',
      invoices: INVOICES,
      bytes: raw.value,
      raw_read_ms: Math.round(raw.ms),
      verify_ms: Math.round(verify.ms),
      full_load_ms: Math.round(load.ms),
      verify_then_first_use_ms: Math.round(served.ms),
      verify_vs_raw_read: Number((verify.ms / raw.ms).toFixed(2)),
      verify_vs_full_load: Number((verify.ms / load.ms).toFixed(2)),
      heap_before_mb: Math.round(heapBase / 1e6),
      heap_after_verify_mb: Math.round(verify.value / 1e6),
      heap_after_full_load_mb: Math.round(load.value / 1e6),
      rss_mb: Math.round(Math.max(rssBefore, process.memoryUsage().rss) / 1e6),
    })}\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
