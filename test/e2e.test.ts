/**
 * The product end to end: `taxbridge serve` as a child process on a real port, the fake Sequence and Rillet
 * in this process. Through the admin API: a test organization with registrations, Sequence and Rillet
 * connected (sandbox), the backfill, a Rillet invoice -> signed webhook -> tax written back onto the fake's
 * invoice, a Sequence draft invoice -> webhook -> rates on its lines, a live tax call with Sequence's key;
 * then a restart on the same data folder, after which everything is still there and still works. Secrets
 * never appear in the logs or the data folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, startFakeSequence, type FakeRillet, type FakeSequence } from '../fakes/index.ts';
import { childServeEnv, freePort, waitFor } from './helpers/e2e.ts';
import { CLI } from './helpers/serve-child.ts';

const ROOT = join(import.meta.dirname, '..');

/** "123.45" -> 12345n (2-decimal currencies), exact. */
function cents(amount: string): bigint {
  const [i, f = ''] = amount.split('.');
  return BigInt(i!) * 100n + BigInt((f + '00').slice(0, 2)) * (amount.startsWith('-') ? -1n : 1n);
}

interface Proc {
  child: ChildProcess;
  out: string[];
  err: string[];
  exit: Promise<number | null>;
}

let seq: FakeSequence;
let ril: FakeRillet;
let dataDir: string;
let port: number;
let base: string;
let env: NodeJS.ProcessEnv;
const ADMIN = `adm_${randomBytes(18).toString('base64url')}`;
const MASTER = randomBytes(32).toString('base64');
let proc: Proc | undefined;
const allOutput: string[] = [];

function startServe(): Proc {
  const child = spawn(process.execPath, [...CLI, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => out.push(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => err.push(d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out, err, exit };
}

async function stopServe(p: Proc): Promise<number | null> {
  p.child.kill('SIGTERM');
  const code = await p.exit;
  allOutput.push(p.out.join(''), p.err.join(''));
  return code;
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await request(base + path, {
    method: method as 'GET',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
}
const admin = (method: string, path: string, body?: unknown) => call(method, path, body, { authorization: `Bearer ${ADMIN}` });

async function ready(): Promise<void> {
  await waitFor('readyz', async () => (await call('GET', '/readyz')).status === 200, 20_000, 100);
}

beforeAll(async () => {
  [seq, ril] = await Promise.all([
    startFakeSequence({ clientSecret: `seqsec_${randomBytes(12).toString('hex')}`, counts: { customers: 6, products: 3, invoices: 5, creditNotes: 1 } }),
    startFakeRillet({ apiKey: `rilkey_${randomBytes(12).toString('hex')}`, signingToken: randomBytes(32).toString('base64'), counts: { customers: 6, products: 3, invoices: 5, creditNotes: 1 } }),
  ]);
  dataDir = mkdtempSync(join(tmpdir(), 'tb-e2e-'));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = childServeEnv({ port, dataDir, adminToken: ADMIN, masterKey: MASTER });
  proc = startServe();
  await ready();
}, 40_000);

afterAll(async () => {
  if (proc && proc.child.exitCode === null) await stopServe(proc);
  await Promise.all([seq?.close(), ril?.close()]);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const state: {
  org?: string;
  seqConn?: string;
  rilConn?: string;
  taxKey?: string;
  rilWebhook?: string;
  rilInvoice?: string;
  seqInvoice?: string;
  counts?: Record<string, unknown>;
  events?: number;
  writebacks?: number;
} = {};

describe('taxbridge serve, end to end', () => {
  it('sets up a test organization with registrations', async () => {
    const o = await admin('POST', '/admin/organizations', { name: 'E2E Test Co', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' }, default_product_tax_code: 'general' });
    expect(o.status).toBe(201);
    state.org = o.json.data.id;
    for (const reg of [{ country: 'US', state: 'TX' }, { country: 'DE' }]) {
      const r = await admin('POST', `/admin/organizations/${state.org}/registrations`, { ...reg, tax_calculation: true, effective_from: '2020-01-01' });
      expect(r.status).toBe(201);
    }
  });

  it('connects Sequence: checked, webhooks registered, a tax key shown once', async () => {
    const r = await admin('POST', '/admin/connections', { connector: 'sequence', organization_id: state.org, environment: 'sandbox', credentials: { client_id: seq.clientId, client_secret: seq.clientSecret }, base_url: seq.url });
    expect(r.status).toBe(201);
    const c = r.json.data.connection;
    expect(c.status).toBe('active');
    expect(c.credentials.client_secret).toEqual({ set: true, title: 'Client secret' });
    expect(r.json.data.tax_api_key).toMatch(/^tb_test_/);
    state.seqConn = c.id;
    state.taxKey = r.json.data.tax_api_key;
    const policy = [...seq.data.policies.values()].find((p) => p.id === c.webhook.registration_id);
    expect(policy?.recipients[0]).toMatch(new RegExp(`^${base}/webhooks/whk_`));
    // The key works at once for Sequence's "Test credentials".
    const t = await call('GET', '/tax_api/test_credentials', undefined, { 'x-api-key': state.taxKey! });
    expect(t.status).toBe(200);
    expect(t.json.data.organization_id).toBe(state.org);
  });

  it('connects Rillet in two steps: subsidiaries and webhook URL, then the choice and the signing token', async () => {
    const usd = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!;
    const r1 = await admin('POST', '/admin/connections', { connector: 'rillet', organization_id: state.org, credentials: { api_key: ril.apiKey }, base_url: ril.url });
    expect(r1.status).toBe(201);
    expect(r1.json.data.connection.status).toBe('pending');
    expect(r1.json.data.choices.subsidiary_id.map((c: { value: string }) => c.value)).toContain(usd.id);
    state.rilConn = r1.json.data.connection.id;
    state.rilWebhook = r1.json.data.webhook_url;
    expect(state.rilWebhook).toMatch(new RegExp(`^${base}/webhooks/whk_`));
    // Step 7 of the seed: the user creates the webhook in Rillet for the URL shown.
    ril.webhookTargets = [{ url: state.rilWebhook! }];
    const r2 = await admin('PATCH', `/admin/connections/${state.rilConn}`, { settings: { subsidiary_id: usd.id }, credentials: { signing_token: ril.signingToken } });
    expect(r2.status).toBe(200);
    expect(r2.json.data.connection.status).toBe('active');
  });

  it('backfills both connections', async () => {
    for (const id of [state.seqConn!, state.rilConn!]) {
      const c = await waitFor(`backfill of ${id}`, async () => {
        const r = await admin('GET', `/admin/connections/${id}`);
        return r.json.data.backfill?.status === 'succeeded' || r.json.data.backfill?.status === 'failed' ? r.json.data : undefined;
      }, 30_000, 200);
      expect(c.backfill.status, JSON.stringify(c.backfill)).toBe('succeeded');
    }
    const s = (await admin('GET', `/admin/connections/${state.seqConn}`)).json.data;
    expect(s.sync.customers.counts.active).toBe([...seq.data.customers.values()].filter((c) => !c.archivedAt).length);
    expect(s.sync.invoices.counts.active).toBe(seq.data.invoices.size);
    expect(s.sync.products.last_sync.status).toBe('ok');
    const r = (await admin('GET', `/admin/connections/${state.rilConn}`)).json.data;
    const usdId = r.settings.subsidiary_id;
    expect(r.sync.invoices.counts.active).toBe([...ril.data.invoices.values()].filter((i) => i.subsidiary_id === usdId).length);
    expect(r.sync.customers.counts.active).toBe(ril.data.customers.size);
  });

  it('Rillet: a new invoice -> signed webhook -> tax written back with the right amounts', async () => {
    const austin = [...ril.data.customers.values()].find((c) => c.address?.state === 'TX')!;
    const usdId = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!.id;
    const inv = ril.createInvoice({ customer_id: austin.id, subsidiary_id: usdId, status: 'UNPAID', itemCount: 2 });
    state.rilInvoice = inv.id;
    const taxed = await waitFor('tax on the Rillet invoice', async () => {
      const now = ril.data.invoices.get(inv.id)!;
      return now.taxes_calculated_at && cents(now.taxed_amount.amount) > 0n ? now : undefined;
    }, 20_000, 100);
    // The same lines through the tax API give the same tax, line by line.
    const calc = await call(
      'POST',
      '/tax_api/calculate_tax',
      {
        currency: 'usd',
        customer_address: { address1: austin.address!.line1, city: austin.address!.city, state: austin.address!.state, postal_code: austin.address!.zip_code, country: austin.address!.country },
        line_items: taxed.items.map((it) => ({ id: it.id, amount: Number(cents(it.total_amount.amount)), product_id: it.product_id ?? it.id })),
      },
      { 'x-api-key': state.taxKey! },
    );
    expect(calc.status).toBe(200);
    for (const line of calc.json.data.lines) {
      const item = taxed.items.find((i) => i.id === line.id)!;
      const expected = line.tax_amounts.reduce((n: bigint, t: { amount: number }) => n + BigInt(t.amount), 0n);
      expect(cents(item.taxed_amount.amount)).toBe(expected);
    }
    const total = taxed.items.reduce((n, i) => n + cents(i.taxed_amount.amount), 0n);
    expect(cents(taxed.taxed_amount.amount)).toBe(total);
    const events = (await admin('GET', `/admin/events?connection=${state.rilConn}`)).json.data;
    expect(events.some((e: { event_type: string; status: string }) => e.event_type === 'INVOICE.CREATED' && e.status === 'processed')).toBe(true);
    const jobs = (await admin('GET', `/admin/writebacks?connection=${state.rilConn}`)).json.data;
    expect(jobs.find((j: { document_id: string }) => j.document_id === inv.id)?.status).toBe('applied');
  });

  it('Sequence: a draft invoice -> webhook -> the rate on its lines', async () => {
    const austin = [...seq.data.customers.values()].find((c) => c.address?.state === 'TX' && c.taxStatus === 'TAXED')!;
    expect(austin).toBeTruthy();
    const inv = seq.createInvoice({ customerId: austin.id, status: 'DRAFT', currency: 'USD', lineCount: 2 } as never);
    state.seqInvoice = inv.id;
    const lines = await waitFor('rates on the Sequence invoice lines', async () => {
      const ls = seq.lineItemsOf(inv.id);
      return ls.length && ls.every((l) => l.taxRate && Number(l.taxRate) > 0) ? ls : undefined;
    }, 20_000, 100);
    const calc = await call('POST', '/tax_api/calculate_tax', { currency: 'usd', customer_id: austin.id, line_items: [{ id: 'x', amount: 10000, product_id: 'p' }] }, { 'x-api-key': state.taxKey! });
    expect(calc.status).toBe(200);
    const percent = calc.json.data.lines[0].tax_amounts.reduce((n: number, t: { tax_rate: { percentage: number } }) => n + t.tax_rate.percentage, 0);
    expect(percent).toBeGreaterThan(0);
    // taxRate is a fraction ("0.0825" for 8.25 %).
    for (const l of lines) expect(Number(l.taxRate) * 100).toBeCloseTo(percent, 6);
  });

  it('records status: counts, last webhook, write-backs', async () => {
    const r = (await admin('GET', `/admin/connections/${state.rilConn}`)).json.data;
    expect(r.webhooks.received).toBeGreaterThan(0);
    expect(r.webhooks.last.event_type).toMatch(/^INVOICE\./);
    expect(r.writebacks.applied).toBeGreaterThan(0);
    expect(r.writebacks.dead).toBe(0);
    state.counts = Object.fromEntries(Object.entries(r.sync as Record<string, { counts: unknown }>).map(([k, v]) => [k, v.counts]));
    state.events = (await admin('GET', '/admin/events')).json.data.length;
    state.writebacks = (await admin('GET', '/admin/writebacks')).json.data.length;
  });

  it('restarts on the same data folder with everything still there', async () => {
    expect(await stopServe(proc!)).toBe(0);
    expect(readdirSync(dataDir)).not.toContain('LOCK');
    proc = startServe();
    await ready();
    const orgs = (await admin('GET', '/admin/organizations')).json.data;
    expect(orgs.map((o: { id: string }) => o.id)).toEqual([state.org]);
    expect(orgs[0].registrations.map((r: { country: string; state?: string }) => `${r.country}${r.state ? `-${r.state}` : ''}`).sort()).toEqual(['DE', 'US-TX']);
    const conns = (await admin('GET', '/admin/connections')).json.data;
    expect(conns.map((c: { id: string; status: string }) => [c.id, c.status]).sort()).toEqual([[state.rilConn, 'active'], [state.seqConn, 'active']].sort());
    const r = (await admin('GET', `/admin/connections/${state.rilConn}`)).json.data;
    expect(r.backfill.status).toBe('succeeded');
    expect(Object.fromEntries(Object.entries(r.sync as Record<string, { counts: unknown }>).map(([k, v]) => [k, v.counts]))).toEqual(state.counts);
    expect((await admin('GET', '/admin/events')).json.data.length).toBe(state.events);
    const jobs = (await admin('GET', '/admin/writebacks')).json.data;
    expect(jobs.length).toBe(state.writebacks);
    expect(jobs.find((j: { document_id: string }) => j.document_id === state.rilInvoice)?.status).toBe('applied');
    // The tax key still works.
    const calc = await call('POST', '/tax_api/calculate_tax', { currency: 'usd', customer_address: { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, line_items: [{ id: 'a', amount: 10000, product_id: 'p' }] }, { 'x-api-key': state.taxKey! });
    expect(calc.status).toBe(200);
    expect(calc.json.data.lines[0].tax_amounts.length).toBeGreaterThan(0);
  });

  it('after the restart a new webhook still verifies (secrets decrypted from disk) and gets its tax', async () => {
    const austin = [...ril.data.customers.values()].find((c) => c.address?.state === 'TX')!;
    const usdId = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!.id;
    const inv = ril.createInvoice({ customer_id: austin.id, subsidiary_id: usdId, status: 'UNPAID', itemCount: 1 });
    await waitFor('tax on the second Rillet invoice', async () => {
      const now = ril.data.invoices.get(inv.id)!;
      return now.taxes_calculated_at && cents(now.taxed_amount.amount) > 0n;
    }, 20_000, 100);
  });

  it('never wrote a secret to the logs or the data folder in clear', async () => {
    expect(await stopServe(proc!)).toBe(0);
    proc = undefined;
    const secrets = { client_secret: seq.clientSecret, api_key: ril.apiKey, signing_token: ril.signingToken, tax_key: state.taxKey!, admin_token: ADMIN, master_key: MASTER };
    const logs = allOutput.join('\n');
    expect(logs).toContain('"msg":"listening"');
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(dataDir);
    expect(files.length).toBeGreaterThan(0);
    const disk = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const [name, value] of Object.entries(secrets)) {
      expect(logs.includes(value), `${name} in the logs`).toBe(false);
      expect(disk.includes(value), `${name} in the data folder`).toBe(false);
    }
    // Every log line is one JSON object with time, level and msg.
    const lines = allOutput.filter((_, i) => i % 2 === 0).join('').split('\n').filter(Boolean);
    for (const l of lines) expect(Object.keys(JSON.parse(l)).slice(0, 3)).toEqual(['time', 'level', 'msg']);
  });
});
