/**
 * Read-then-write against a fake system over real sockets: the write-back reads the invoice first, keeps its
 * SyncToken (`read.save_as` -> `saved.sync_token`), writes with it, and keeps the token the write answers
 * with. A stale token (400, Fault code 5010: someone edited the invoice between our read and our write) is
 * read again and resent, at most `conflict.max_retries` times; then the job is dead with WRITEBACK_CONFLICT.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConnector } from '../src/spec/index.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { getJob } from '../src/writeback/jobs.ts';
import { connection, makeOrganization, startHarness, type Harness, type TestConnection } from './fixtures/webhooks/harness.ts';
import { ledgerInvoice, startFakeLedger, type FakeLedger } from './fixtures/ledger/fake.ts';

const SPEC = new URL('./fixtures/ledger/ledger.yaml', import.meta.url).pathname;

describe('read-then-write with save_as and conflict retries', () => {
  let ledger: FakeLedger;
  let store: Store;
  let h: Harness;
  let conn: TestConnection;

  beforeEach(async () => {
    ledger = await startFakeLedger([ledgerInvoice('130', { SyncToken: '7' })]);
    store = await openStore({ memory: true });
    const org = await makeOrganization(store, { states: ['TX'] });
    conn = connection(loadConnector(SPEC), org.id, { connection_id: 'conn_l', base_url: ledger.url, credentials: { api_key: ledger.apiKey, webhook_secret: 'whsec_test' } });
    h = await startHarness({ store, connections: [conn], runtime: { writeback: { backoff: { initialMs: 20, maxMs: 200 }, maxAttempts: 1 } } });
    await h.runtime.records.upsert(conn, 'invoices', ledger.invoices.get('130'));
    ledger.log.length = 0;
  });
  afterEach(async () => {
    await h.close();
    await ledger.close();
    await store.close();
  });

  it('reads the SyncToken, writes with it, and carries the minor-unit tax computed from the mapped decimals', async () => {
    const out = await h.runtime.writebacks!.request(conn, 'invoice', '130', 'test', { wait: true });
    expect(out.status).toBe('applied');
    // Austin, TX at 8.25 %: 100.00 -> 8.25; 25.50 -> 2.11 (each jurisdiction rounded: 1.59 + 0.26 + 0.26).
    expect(ledger.log).toEqual([
      { method: 'GET', path: '/invoice/130' },
      {
        method: 'POST',
        path: '/invoice',
        body: { Id: '130', SyncToken: '7', sparse: true, TotalTaxMinor: 1036, TotalTax: '10.36', LineTax: [{ id: '130-1', minor: 825 }, { id: '130-2', minor: 211 }] },
      },
    ]);
    expect(ledger.invoices.get('130')).toMatchObject({ SyncToken: '8', TotalTaxMinor: 1036 });
    const job = (await getJob(store, out.job_id!))!;
    expect(job.sent).toEqual([
      { method: 'GET', path: '/invoice/130', status: 200 },
      { method: 'POST', path: '/invoice', status: 200 },
    ]);
  });

  it('reads again after a stale-token answer and succeeds with the new token', async () => {
    ledger.interfere(1);
    const out = await h.runtime.writebacks!.request(conn, 'invoice', '130', 'test', { wait: true });
    expect(out.status).toBe('applied');
    expect(ledger.log.map((r) => `${r.method} ${r.path} ${r.body ? String(r.body.SyncToken) : ''}`.trim())).toEqual([
      'GET /invoice/130',
      'POST /invoice 7', // stale: someone bumped it to 8 right after our read
      'GET /invoice/130',
      'POST /invoice 8',
    ]);
    expect(ledger.invoices.get('130')).toMatchObject({ SyncToken: '9', TotalTaxMinor: 1036 });
  });

  it('fails the job with WRITEBACK_CONFLICT once max_retries re-reads are spent', async () => {
    ledger.interfere(100);
    const out = await h.runtime.writebacks!.request(conn, 'invoice', '130', 'test', { wait: true });
    expect(out.status).toBe('dead');
    // max_retries: 2 -> one first try and two retries, each after a fresh read.
    expect(ledger.log.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /invoice/130', 'POST /invoice', 'GET /invoice/130', 'POST /invoice', 'GET /invoice/130', 'POST /invoice']);
    const job = (await getJob(store, out.job_id!))!;
    expect(job.last_error?.code).toBe('writeback_conflict');
    expect(job.reason).toBe('Ledger still refused POST /invoice as a conflict (400) after the invoice was read again 2 time(s) (conflict.max_retries: 2)');
    expect(job.attempts).toBe(1);
    expect(ledger.invoices.get('130')!.TotalTaxMinor).toBe(0);
  });

  it('does not retry a refusal the spec does not declare a conflict', async () => {
    ledger.invoices.delete('130');
    const out = await h.runtime.writebacks!.request(conn, 'invoice', '130', 'test', { wait: true });
    expect(out.status).toBe('dead');
    expect(ledger.log.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /invoice/130']);
    expect((await getJob(store, out.job_id!))!.last_error?.code).toBe('http_permanent');
  });
});
