/**
 * `taxbridge tax export` as a child process: through a running tax API over a socket (--server, --api-key), and
 * straight from a data folder (--org); CSV of rows or summary, JSON of the job, bad input refused with exit 1.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.ts';
import { TaxService } from '../src/tax/service.ts';
import { startTaxServer, taxData, type TaxServer } from './helpers/tax-server.ts';
import { CLI } from './helpers/serve-child.ts';

const run = promisify(execFile);
const cli = async (args: string[], env: Record<string, string> = {}) => {
  try {
    const r = await run(process.execPath, [...CLI, 'tax', 'export', ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
};
const AUSTIN = { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
const dir = mkdtempSync(join(tmpdir(), 'tb-export-cli-'));
let s: TaxServer;
let key: string;
let localOrg: string;

beforeAll(async () => {
  s = await startTaxServer();
  const org = (await s.admin('POST', '/admin/organizations', { name: 'CLI', mode: 'test', origin_address: { country: 'US', state: 'TX' }, default_product_tax_code: 'saas' })).json.data;
  await s.admin('POST', `/admin/organizations/${org.id}/registrations`, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
  key = (await s.admin('POST', `/admin/organizations/${org.id}/keys`, {})).json.data.key;
  await s.post('/tax_api/calculate_tax', { currency: 'usd', tax_date: '2026-04-02', customer_address: AUSTIN, line_items: [{ amount: 10_000, product_id: 'p' }] }, { 'x-api-key': key });

  // A data folder with one calculation, written by a TaxService over the real store.
  const store = await openStore({ dir: join(dir, 'data') });
  const svc = await TaxService.open({ store, data: taxData(), recordMode: 'durable' });
  const o = await svc.createOrganization({ name: 'Local', mode: 'live', origin_address: { country: 'US', state: 'TX' }, default_product_tax_code: 'saas' });
  await svc.addRegistration(o.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
  const k = await svc.createApiKey(o.id);
  await svc.calculate((await svc.authenticate(k.key))!, { currency: 'usd', tax_date: '2026-05-05', customer_address: AUSTIN, line_items: [{ amount: 20_000, product_id: 'p' }] });
  await svc.close();
  await store.close();
  localOrg = o.id;
}, 60_000);
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('taxbridge tax export', () => {
  it('through the tax API: summary CSV per jurisdiction; JSON job', async () => {
    const sum = await cli(['--server', s.url, '--from', '2026-04-01', '--to', '2026-06-30', '--period', 'quarter', '--summary'], { TAXBRIDGE_API_KEY: key });
    expect(sum.code).toBe(0);
    const lines = sum.out.trim().split('\r\n');
    expect(lines[0]).toBe('period,currency,country,state,jurisdiction_level,jurisdiction,tax_type,taxable_amount,exempt_amount,tax_amount,transactions');
    expect(lines).toContain('2026-Q2,USD,US,TX,state,Texas,sales_tax,8000,2000,500,1');
    const job = await cli(['--server', s.url, '--api-key', key, '--from', '2026-04-01', '--to', '2026-04-30']);
    expect(JSON.parse(job.out)).toMatchObject({ status: 'completed', calculations: 1, row_count: 3 });
  }, 60_000);

  it('from a data folder, rows as CSV into a file', async () => {
    const out = join(dir, 'rows.csv');
    const r = await cli(['--data', join(dir, 'data'), '--org', localOrg, '--from', '2026-05-01', '--to', '2026-05-31', '--format', 'csv', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.err).toContain('1 calculation(s), 3 row(s)');
    const csv = readFileSync(out, 'utf8').trim().split('\r\n');
    expect(csv).toHaveLength(4);
    expect(csv[1]).toContain(',Texas,state,US,TX,sales_tax,6.25,20000,16000,4000,1000');
  }, 60_000);

  it('bad input: exit 2 (usage) with a message naming the option; wrong key refused by the server', async () => {
    const r = await cli(['--data', join(dir, 'data'), '--org', localOrg, '--from', '2026-01-01', '--to', '2028-01-01']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--to');
    expect(r.err).toContain('366 days');
    const noOrg = await cli(['--data', join(dir, 'data'), '--from', '2026-01-01', '--to', '2026-01-02']);
    expect(noOrg.err).toContain('--org');
    const bad = await cli(['--server', s.url, '--api-key', 'tb_test_nope', '--from', '2026-01-01', '--to', '2026-01-02']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('401');
  }, 60_000);
});
