/**
 * `taxbridge demo`: the whole product on one machine with no account anywhere. It starts the fake Sequence
 * and Rillet APIs and a real `taxbridge serve` (in this process, on a free loopback port, with a throw-away
 * data folder and keys), then walks the seeds' flows through the public HTTP API exactly as an operator or
 * a billing system would, narrating each step.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startFakeRillet, startFakeSequence } from '../../fakes/index.ts';
import { loadConfig } from '../config/index.ts';
import { TaxbridgeError } from '../errors.ts';
import { startServer } from '../server/serve.ts';
import { packagePath } from '../package-root.ts';
import { startQuickBooksDemo } from './quickbooks.ts';
import { startStripeDemo } from './stripe.ts';
import { startChargebeeDemo } from './chargebee.ts';
import { writeTour, type Tour } from './tour.ts';

export interface DemoOptions {
  /** Keep everything running after the tour until interrupted. */
  keep?: boolean;
  /** Data folder to use (kept afterwards); default a temporary one, removed at the end. */
  dataDir?: string;
  out?: (line: string) => void;
}

type Json = Record<string, any>;

export async function runDemo(opts: DemoOptions = {}): Promise<void> {
  const say = opts.out ?? ((l: string) => void process.stdout.write(l + '\n'));
  const step = (n: number | string, title: string) => say(`\n${n}. ${title}`);
  const started = Date.now();

  step(1, 'Starting the fake Sequence and Rillet APIs (loopback, generated data)');
  const [seq, ril] = await Promise.all([
    startFakeSequence({ seed: 7, counts: { customers: 12, products: 4, invoices: 30, creditNotes: 3 } }),
    startFakeRillet({ seed: 7, counts: { customers: 12, products: 4, invoices: 30, creditNotes: 3 } }),
  ]);
  say(`   Sequence ${seq.url}   Rillet ${ril.url}`);
  const qbo = await startQuickBooksDemo();
  say(`   QuickBooks Online ${qbo.fake.url} (and its OAuth server ${qbo.fake.oauth.authorizeUrl.replace(/\/connect\/oauth2$/, '')})`);
  const stripe = await startStripeDemo();
  say(`   Stripe ${stripe.fake.url} (API ${stripe.fake.apiVersion})`);
  const chargebee = await startChargebeeDemo();
  say(`   Chargebee ${chargebee.fake.siteUrl()} (site ${chargebee.fake.site})`);

  const tempDir = opts.dataDir ? undefined : mkdtempSync(join(tmpdir(), 'taxbridge-demo-'));
  const dataDir = opts.dataDir ?? tempDir!;
  const port = await freePort();
  const admin = `adm_${randomBytes(18).toString('base64url')}`;
  // The server log outlives a temporary data folder (it is what to read when a step fails); it holds no secrets.
  const logFile = opts.dataDir ? join(dataDir, 'demo-server.log') : join(tmpdir(), `taxbridge-demo-server-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const config = loadConfig(
    { port: String(port), host: '127.0.0.1', data: dataDir, 'log-level': 'info' } as never,
    { TAXBRIDGE_ADMIN_TOKEN: admin, TAXBRIDGE_MASTER_KEY: randomBytes(32).toString('base64'), TAXBRIDGE_CONNECTORS_DIR: packagePath('connectors'), ...qbo.env },
  );
  step(2, 'Starting taxbridge serve: tax API, admin API, webhook receiver, scheduler');
  const server = await startServer(config, { writeLog: (l) => void log.write(l.endsWith('\n') ? l : `${l}\n`), notice: () => {} });
  const base = server.url;
  say(`   ${base}  (server log: ${logFile}, kept after the demo ends)`);
  qbo.attach(base, config.publicUrl);

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Json> => {
    const res = await request(base + path, {
      method: method as 'GET',
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.body.text();
    const json = text ? (JSON.parse(text) as Json) : {};
    if (res.statusCode >= 400) throw new TaxbridgeError('DEMO_STEP_FAILED', `${method} ${path} answered ${res.statusCode}: ${json.message ?? json.error?.message ?? text}`);
    return json;
  };
  const adminCall = (method: string, path: string, body?: unknown) => call(method, path, body, { authorization: `Bearer ${admin}` });
  let tour: Tour | undefined;

  try {
    step(3, 'A test organization in Austin, TX, registered in Texas, New York, Germany and the UK');
    const org = (await adminCall('POST', '/admin/organizations', { name: 'Demo SaaS Inc (test)', mode: 'test', origin_address: { line1: '100 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, default_product_tax_code: 'saas' })).data;
    for (const reg of [{ country: 'US', state: 'TX' }, { country: 'US', state: 'NY' }, { country: 'DE' }, { country: 'GB' }]) {
      await adminCall('POST', `/admin/organizations/${org.id}/registrations`, { ...reg, tax_calculation: true, effective_from: '2020-01-01' });
    }
    say(`   organization ${org.id} (${org.mode})`);

    step(4, 'Connecting Sequence (sandbox): Test credentials, webhook registered by API, a tax API key for Sequence');
    const s = (await adminCall('POST', '/admin/connections', { connector: 'sequence', organization_id: org.id, environment: 'sandbox', base_url: seq.url, credentials: { client_id: seq.clientId, client_secret: seq.clientSecret } })).data;
    say(`   connection ${s.connection.id}: ${s.connection.status}; webhook registered as policy ${s.connection.webhook?.registration_id}`);
    say(`   tax API key for Sequence (shown once): ${s.tax_api_key.slice(0, 12)}…`);
    const taxKey: string = s.tax_api_key;

    step(5, 'Connecting Rillet: API key -> subsidiaries -> webhook URL to paste into Rillet -> signing token');
    const r1 = (await adminCall('POST', '/admin/connections', { connector: 'rillet', organization_id: org.id, environment: 'sandbox', base_url: ril.url, credentials: { api_key: ril.apiKey } })).data;
    const choices = r1.choices.subsidiary_id as Array<{ value: string; label: string }>;
    say(`   subsidiaries: ${choices.map((c) => c.label).join(', ')}`);
    const usd = [...ril.data.subsidiaries.values()].find((x) => x.currency === 'USD')!;
    say(`   webhook URL for Rillet: ${r1.webhook_url.replace(/whk_.+$/, 'whk_…')}`);
    ril.webhookTargets = [{ url: r1.webhook_url }];
    await adminCall('PATCH', `/admin/connections/${r1.connection.id}`, { settings: { subsidiary_id: usd.id }, credentials: { signing_token: ril.signingToken } });
    say(`   chose ${usd.trade_name}; signing token accepted; connection active`);

    step('5b', 'Connecting QuickBooks Online: OAuth consent in the browser (the fake Intuit approves it), realmId kept');
    const q = await qbo.connect({ adminCall, organizationId: org.id, say });

    step('5c', 'Connecting Stripe (sandbox): secret key checked, webhook endpoint registered by API');
    const stripeConn = await stripe.connect({ adminCall, organizationId: org.id, say });

    step('5d', 'Connecting Chargebee (test site): site + API key, webhook registered by API with generated Basic credentials');
    const cbConn = await chargebee.connect({ adminCall, organizationId: org.id, say });

    step(6, 'Backfill: customers, products, invoices and credit notes from the five systems');
    for (const [name, id] of [['Sequence', s.connection.id], ['Rillet', r1.connection.id], ['QuickBooks', q], ['Stripe', stripeConn], ['Chargebee', cbConn]] as const) {
      const status = await waitFor(async () => {
        const st = (await adminCall('GET', `/admin/connections/${id}`)).data;
        return ['succeeded', 'failed'].includes(st.backfill?.status) ? st : undefined;
      }, 60_000);
      const counts = Object.entries(status.sync as Record<string, Json>).map(([stream, v]) => `${stream} ${v.counts?.active ?? 0}`).join(', ');
      say(`   ${name}: ${status.backfill.status} — ${counts}`);
    }

    step(7, 'Rillet: an invoice is saved -> signed webhook -> tax added to it asynchronously');
    const austin = [...ril.data.customers.values()].find((c) => c.address?.state === 'TX') ?? [...ril.data.customers.values()][0]!;
    const t0 = Date.now();
    const inv = ril.createInvoice({ customer_id: austin.id, subsidiary_id: usd.id, status: 'UNPAID', itemCount: 2 });
    const taxed = await waitFor(async () => {
      const now = ril.data.invoices.get(inv.id)!;
      return now.taxes_calculated_at ? now : undefined;
    }, 20_000);
    say(`   invoice ${taxed.invoice_number} for ${austin.name} (${austin.address?.city}, ${austin.address?.state}) taxed in ${Date.now() - t0} ms:`);
    for (const item of taxed.items) {
      say(`     ${item.description.padEnd(28)} ${item.total_amount.amount.padStart(10)} ${item.total_amount.currency}  tax ${item.taxed_amount.amount}  (${(item.tax_rates ?? []).map((t) => `${t.description} ${t.percentage}%`).join(' + ') || 'no tax'})`);
    }
    say(`     total tax ${taxed.taxed_amount.amount}, total ${taxed.total.amount} ${taxed.total.currency}`);
    if (austin.address?.state === 'TX') say(TEXAS_NOTE);

    step(8, 'Sequence: a DRAFT invoice -> webhook -> the computed rate put on each line');
    const texan = [...seq.data.customers.values()].find((c) => c.address?.state === 'TX' && c.taxStatus === 'TAXED') ?? [...seq.data.customers.values()].find((c) => c.taxStatus === 'TAXED')!;
    const t1 = Date.now();
    const draft = seq.createInvoice({ customerId: texan.id, status: 'DRAFT', currency: 'USD', lineCount: 2 } as never);
    const lines = await waitFor(async () => {
      const ls = seq.lineItemsOf(draft.id);
      return ls.length && ls.every((l) => l.taxRate && l.taxRate !== '0') ? ls : undefined;
    }, 20_000);
    const after = seq.data.invoices.get(draft.id)!;
    say(`   draft invoice for ${texan.legalName} (${texan.address?.town}, ${texan.address?.state}) rated in ${Date.now() - t1} ms:`);
    for (const l of lines) say(`     ${l.title.padEnd(28)} net ${l.netTotal.padStart(10)}  taxRate ${l.taxRate}  totalTax ${l.totalTax}`);
    say(`     Sequence recomputed totalTax ${after.totalTax}, grossTotal ${after.grossTotal}`);
    if (texan.address?.state === 'TX') say('     (taxRate is of the full price: Texas taxes SaaS on 80% of it, so 6.25% state + 1% city + 1% transit on 80% = 0.066)');

    step('8b', 'QuickBooks: an invoice is created -> the app\'s one webhook, routed by realmId -> TotalTax written with the current SyncToken');
    await qbo.invoiceRoundTrip({ adminCall, say, waitFor });

    step('8c', 'Stripe: a subscription draft -> signed invoice.created -> manual tax_amounts on its lines within the draft window');
    await stripe.invoiceRoundTrip({ adminCall, connectionId: stripeConn, say, waitFor });

    step('8d', 'Chargebee: an invoice is generated -> Basic-auth webhook -> imported, cents to exact decimals (import only)');
    await chargebee.invoiceImport({ adminCall, connectionId: cbConn, say, waitFor });

    step(9, 'A live tax call, as Sequence makes on every invoice (POST /tax_api/calculate_tax)');
    const calcBody = {
      currency: 'usd',
      customer_address: { address1: '100 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' },
      include_taxability_reason: true,
      line_items: [
        { id: 'li_1', amount: 120000, product_id: 'platform' },
        { id: 'li_2', amount: 4999, product_id: 'seats', discount_amount: 999 },
      ],
    };
    const calc = (await call('POST', '/tax_api/calculate_tax', calcBody, { 'x-api-key': taxKey })).data;
    for (const line of calc.lines as Json[]) {
      const parts = (line.tax_amounts as Json[]).map((t) => `${t.tax_rate.display_name} ${t.tax_rate.percentage}% on ${t.taxable_amount} = ${t.amount}`);
      say(`   ${line.id}: ${parts.join('; ') || 'no tax'}`);
    }
    say(`   calculation ${calc.sphere_tax_calculation_id} (amounts in cents; Texas taxes SaaS on 80% of the charge: taxable_amount is 80% of the line, and the rates are Texas's own, 6.25% state + 1% city + 1% transit)`);
    const de = (await call('POST', '/tax_api/calculate_tax', { currency: 'eur', customer_address: { city: 'Berlin', postal_code: '10117', country: 'DE' }, include_taxability_reason: true, line_items: [{ id: 'de', amount: 10000, product_id: 'platform' }] }, { 'x-api-key': taxKey })).data;
    const fr = (await call('POST', '/tax_api/calculate_tax', { currency: 'eur', tax_id: 'FR40303265045', customer_address: { city: 'Paris', postal_code: '75001', country: 'FR' }, include_taxability_reason: true, line_items: [{ id: 'fr', amount: 10000, product_id: 'platform' }] }, { 'x-api-key': taxKey })).data;
    say(`   Berlin consumer, 100.00 EUR: ${(de.lines[0].tax_amounts as Json[]).map((t) => `${t.tax_rate.display_name} ${t.tax_rate.percentage}% = ${t.amount}`).join('; ') || 'no tax'}`);
    say(`   Paris business with a VAT id: ${(fr.lines[0].tax_amounts as Json[]).length === 0 ? `no tax (${fr.lines[0].taxability_reason ?? 'reverse charge'})` : 'taxed'}`);

    step(10, 'What the operator sees');
    const events = (await adminCall('GET', '/admin/events')).data as Json[];
    const jobs = (await adminCall('GET', '/admin/writebacks')).data as Json[];
    say(`   ${events.length} webhook events stored, ${events.filter((e) => e.status === 'processed').length} processed; ${jobs.length} write-back jobs (${jobs.filter((j) => j.status === 'applied').length} applied, ${jobs.filter((j) => j.status === 'dead').length} dead)`);
    say(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Everything above went over real HTTP on 127.0.0.1.`);
    if (opts.keep) {
      const tourOrg = (await adminCall('POST', '/admin/organizations', { name: 'Your tour (test)', mode: 'test', origin_address: { line1: '100 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, default_product_tax_code: 'saas' })).data;
      await adminCall('POST', `/admin/organizations/${tourOrg.id}/registrations`, { country: 'US', state: 'TX', tax_calculation: true, effective_from: '2020-01-01' });
      tour = writeTour({
        server: base,
        adminToken: admin,
        organizationId: tourOrg.id,
        sequence: { url: seq.url, clientId: seq.clientId, clientSecret: seq.clientSecret },
        rillet: { url: ril.url, apiKey: ril.apiKey, signingToken: ril.signingToken, subsidiaryId: usd.id },
        demoConnectionId: s.connection.id,
      });
      say(`\nYour turn: connect the same fakes to a second test organization (${tourOrg.id}) with the CLI, as the README's`);
      say(`"Connect a system" shows. Their credentials are files in ${tour.dir} (0700; removed when the demo ends).`);
      say(`In a second terminal, in this folder:\n  . ${tour.envFile}    # TAXBRIDGE_SERVER, TAXBRIDGE_ADMIN_TOKEN, TOUR_ORG, the fakes' URLs`);
      for (const c of tour.commands) say(`  ${c}`);
      say(`\nStill running. Try:\n  curl -s ${base}/openapi.json | head\n  curl -s -H 'authorization: Bearer ${admin}' ${base}/admin/connections\n  curl -s -X POST ${base}/tax_api/calculate_tax -H 'x-api-key: ${taxKey}' -H 'content-type: application/json' -d '${JSON.stringify(calcBody)}'\nPress Ctrl-C to stop.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
  } finally {
    tour?.remove();
    await server.close('demo finished');
    await Promise.all([seq.close(), ril.close(), qbo.close(), stripe.close(), chargebee.close()]);
    await new Promise((r) => log.end(r));
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}

/** Rates written onto a document are of its full price; Texas taxes SaaS on 80% of it. */
const TEXAS_NOTE = '     (these rates are of the full price: Texas taxes SaaS on 80% of it, so its 6.25% state and 1% local rates show as 5% and 0.8%)';

async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new TaxbridgeError('DEMO_TIMEOUT', `the demo waited ${timeoutMs / 1000} s for a step that did not finish`, { hint: 'see the server log printed at step 2' });
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
