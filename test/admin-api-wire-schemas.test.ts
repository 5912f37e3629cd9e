/**
 * /openapi.json is built from the JSON Schema files (schemas/tax-api/, schemas/admin-api/, schemas/entities/), and
 * those schemas are the wire: the server runs in process with a fake Sequence and a fake Rillet, and every route
 * it serves is called over a socket with a real request. Each request body sent is checked against the
 * operation's requestBody schema and each answer against the schema of its status and content type, taken from
 * the served document (its $refs resolved by ajv). Every documented operation must have been answered at least
 * once, every JSON request and answer of an operation must have a schema, and the admin routers check their
 * bodies with those same schemas (an unknown field is a 400 naming it).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, startFakeSequence, type FakeRillet, type FakeSequence } from '../fakes/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { inProcessConfig, startTestServer, waitFor } from './helpers/e2e.ts';

type Json = Record<string, any>;
const addFormats = ((addFormatsModule as unknown as { default?: (a: Ajv2020) => void }).default ?? addFormatsModule) as unknown as (a: Ajv2020) => void;

const TOKEN = `adm_${randomBytes(18).toString('base64url')}`;
let s: RunningServer;
let seq: FakeSequence;
let ril: FakeRillet;
let proxy: Server;
let proxyUrl: string;
let dataDir: string;
let doc: Json;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
const compiled = new Map<string, ValidateFunction>();
/** "GET /admin/events/{id}" -> the statuses answered and checked. */
const answered = new Map<string, Set<number>>();

const ptr = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
function validatorAt(pointer: string): ValidateFunction {
  let v = compiled.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `https://taxbridge.test/openapi.json#/${pointer}` });
    compiled.set(pointer, v);
  }
  return v;
}

/** The documented path template of a concrete path, e.g. /admin/events/evt_1 -> /admin/events/{id}. */
function templateOf(method: string, path: string): string {
  const bare = path.split('?')[0]!;
  const matches = Object.keys(doc.paths).filter((t) => doc.paths[t][method.toLowerCase()] && new RegExp(`^${t.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare));
  // The most literal template wins (/tax_api/exports/{id}/summary.csv over a shorter one).
  matches.sort((a, b) => b.replace(/\{[^}]+\}/g, '').length - a.replace(/\{[^}]+\}/g, '').length);
  if (!matches[0]) throw new Error(`${method} ${bare} is not in /openapi.json`);
  return matches[0];
}

/** Checks a request body and its answer against the document; records the operation as answered. */
function check(method: string, path: string, sent: unknown, status: number, contentType: string, text: string): void {
  const template = templateOf(method, path);
  const m = method.toLowerCase();
  const op = doc.paths[template][m];
  const where = `${method} ${template}`;
  if (sent !== undefined) {
    expect(op.requestBody?.content?.['application/json']?.schema, `${where}: request body schema`).toBeDefined();
    const v = validatorAt(ptr('paths', template, m, 'requestBody', 'content', 'application/json', 'schema'));
    expect(v(sent), `${where} request ${JSON.stringify(sent).slice(0, 200)}: ${ajv.errorsText(v.errors)}`).toBe(true);
  }
  // Query parameters sent are documented, and valid against their schemas (whole numbers read as numbers).
  const query = new URLSearchParams(path.split('?')[1] ?? '');
  for (const [name, value] of query) {
    const i = (op.parameters ?? []).findIndex((p: Json) => p.in === 'query' && p.name === name);
    expect(i, `${where}: query parameter ${name} is not documented`).toBeGreaterThanOrEqual(0);
    const v = validatorAt(ptr('paths', template, m, 'parameters', String(i), 'schema'));
    expect(v(value) || (/^\d+$/.test(value) && v(Number(value))), `${where}: ${name}=${value}: ${ajv.errorsText(v.errors)}`).toBe(true);
  }
  const response = op.responses[String(status)];
  expect(response, `${where} answered ${status}, which the document does not list: ${text.slice(0, 200)}`).toBeDefined();
  const type = contentType.split(';')[0]!.trim();
  if (response.content) expect(Object.keys(response.content), `${where} ${status} content type`).toContain(type);
  if (type === 'application/json') {
    const v = validatorAt(ptr('paths', template, m, 'responses', String(status), 'content', 'application/json', 'schema'));
    const body = JSON.parse(text);
    expect(v(body), `${where} ${status} answer ${text.slice(0, 300)}: ${ajv.errorsText(v.errors)}`).toBe(true);
  }
  let seen = answered.get(where);
  if (!seen) answered.set(where, (seen = new Set()));
  seen.add(status);
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string; headers: Record<string, any> }> {
  const res = await request(s.url + path, {
    method: method as 'GET',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  check(method, path, body, res.statusCode, String(res.headers['content-type'] ?? ''), text);
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text, headers: res.headers };
}
const admin = (method: string, path: string, body?: unknown) => call(method, path, body, { authorization: `Bearer ${TOKEN}` });

beforeAll(async () => {
  [seq, ril] = await Promise.all([
    startFakeSequence({ clientSecret: `seqsec_${randomBytes(12).toString('hex')}`, counts: { customers: 3, products: 2, invoices: 2, creditNotes: 0 } }),
    startFakeRillet({ apiKey: `rilkey_${randomBytes(12).toString('hex')}`, signingToken: randomBytes(32).toString('base64'), counts: { customers: 3, products: 2, invoices: 2, creditNotes: 0 } }),
  ]);
  dataDir = mkdtempSync(join(tmpdir(), 'tb-wire-'));
  s = await startTestServer(inProcessConfig({ dataDir, env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }));
  // Rillet's deliveries pass through here on their way to the server, so their answers are checked too.
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
      void request(s.url + req.url, { method: req.method as 'POST', headers, body: Buffer.concat(chunks) }).then(async (r) => {
        const text = await r.body.text();
        check(req.method!, req.url!, undefined, r.statusCode, String(r.headers['content-type'] ?? ''), text);
        res.writeHead(r.statusCode, { 'content-type': String(r.headers['content-type'] ?? 'application/json') }).end(text);
      }, (e: Error) => res.writeHead(502).end(e.message));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const served = await request(`${s.url}/openapi.json`);
  doc = (await served.body.json()) as Json;
  ajv.addSchema({ $id: 'https://taxbridge.test/openapi.json', ...doc });
}, 60_000);

afterAll(async () => {
  await s?.close();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await Promise.all([seq?.close(), ril?.close()]);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('/openapi.json from the schema files, against the wire', () => {
  it('names a schema for every JSON request body and answer of every operation', () => {
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths as Json)) {
      for (const [method, op] of Object.entries(ops as Json)) {
        const json = op.requestBody?.content?.['application/json'];
        if (op.requestBody && !json?.schema) missing.push(`${method} ${path} request`);
        for (const [status, r] of Object.entries(op.responses as Json)) {
          for (const [type, c] of Object.entries(((r as Json).content ?? {}) as Json)) if (!(c as Json).schema) missing.push(`${method} ${path} ${status} ${type}`);
        }
      }
    }
    expect(missing).toEqual([]);
    // Shapes are components from the schema files only: admin (Organizations*, Connections*, ...), tax and entities.
    const names = Object.keys(doc.components.schemas);
    for (const n of ['ApiError', 'OrganizationsCreateRequest', 'ConnectionsConnectRequest', 'ConnectionsStatus', 'WebhooksEventSummary', 'SpecsTryMappingRequest', 'CalculateTaxRequest', 'EntityOrganization']) expect(names).toContain(n);
  });

  it('every route answers, over a socket, what its schema says', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    // Health, the document itself, metrics.
    expect((await call('GET', '/healthz')).status).toBe(200);
    await waitFor('ready', async () => (await call('GET', '/readyz')).status === 200);
    expect((await call('GET', '/openapi.json')).status).toBe(200);
    expect((await call('GET', '/metrics', undefined, auth)).status).toBe(200);

    // Organizations, registrations, product tax codes, keys.
    const org = (await admin('POST', '/admin/organizations', { name: 'Wire Co', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' }, default_product_tax_code: 'saas' })).json.data;
    expect(org.id).toMatch(/^org_test_/);
    expect((await admin('GET', '/admin/organizations')).status).toBe(200);
    expect((await admin('GET', `/admin/organizations/${org.id}`)).status).toBe(200);
    expect((await admin('PATCH', `/admin/organizations/${org.id}`, { rounding: 'line', local_rates_unknown: 'warn' })).status).toBe(200);
    for (const reg of [{ country: 'US', state: 'TX', effective_from: '2020-01-01' }, { country: 'DE', effective_from: '2020-01-01' }, { country: 'FR' }]) expect((await admin('POST', `/admin/organizations/${org.id}/registrations`, reg)).status).toBe(201);
    expect((await admin('GET', `/admin/organizations/${org.id}/registrations`)).json.data).toHaveLength(3);
    expect((await admin('PATCH', `/admin/organizations/${org.id}/registrations/US-TX`, { tax_calculation: true })).status).toBe(200);
    expect((await admin('DELETE', `/admin/organizations/${org.id}/registrations/FR`)).status).toBe(204);
    expect((await admin('POST', `/admin/organizations/${org.id}/product_tax_codes`, { product_id: 'free', tax_code: 'exempt' })).status).toBe(200);
    expect((await admin('GET', `/admin/organizations/${org.id}/product_tax_codes`)).json.data.products).toHaveLength(1);
    expect((await admin('DELETE', `/admin/organizations/${org.id}/product_tax_codes?product_id=free`)).status).toBe(204);
    const key = (await admin('POST', `/admin/organizations/${org.id}/keys`, { name: 'billing' })).json.data.key as string;
    const spare = (await admin('POST', `/admin/organizations/${org.id}/keys`, { name: 'spare', rate_limit_per_second: 50 })).json.data;
    expect((await admin('GET', `/admin/organizations/${org.id}/keys`)).json.data).toHaveLength(2);
    expect((await admin('GET', `/admin/keys?organization_id=${org.id}`)).status).toBe(200);
    expect((await admin('DELETE', `/admin/keys/${spare.id}`)).json.data.revoked_at).toBeTruthy();

    // The tax API and the calculation log.
    const tax = { 'x-api-key': key };
    const austin = { address1: '1 Congress Ave', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' };
    const calc = (await call('POST', '/tax_api/calculate_tax', { currency: 'usd', tax_date: '2026-03-02', customer_address: austin, line_items: [{ id: 'a', amount: 10_000, product_id: 'p' }, { id: 'b', amount: 2_500, product_id: 'q' }] }, tax)).json.data;
    const id = calc.sphere_tax_calculation_id;
    expect((await call('GET', `/tax_api/calculations/${id}`, undefined, tax)).status).toBe(200);
    expect((await call('POST', `/tax_api/calculations/${id}/commit`, undefined, tax)).status).toBe(200);
    expect((await call('POST', `/tax_api/calculations/${id}/refund`, { type: 'partial', lines: [{ id: 'a', amount: 1_000 }] }, tax)).status).toBe(201);
    const other = (await call('POST', '/tax_api/calculate_tax', { currency: 'eur', tax_date: '2026-03-03', customer_address: { city: 'Berlin', postal_code: '10117', country: 'DE' }, line_items: [{ id: 'x', amount: 5_000, product_id: 'p' }] }, tax)).json.data;
    expect((await call('POST', `/tax_api/calculations/${other.sphere_tax_calculation_id}/void`, { reason: 'deleted upstream' }, tax)).status).toBe(200);
    expect((await call('GET', '/tax_api/test_credentials', undefined, tax)).status).toBe(200);
    expect((await call('POST', '/tax_api/test_credentials', undefined, tax)).status).toBe(200);
    const exp = await call('POST', '/tax_api/exports', { from: '2026-03-01', to: '2026-03-31', period: 'day' }, tax);
    expect(exp.status).toBe(201);
    for (const tail of ['', '/transactions.csv', '/summary.csv']) expect((await call('GET', `/tax_api/exports/${exp.json.data.id}${tail}`, undefined, tax)).status).toBe(200);
    expect((await call('POST', '/tax_api/exports', { from: '2026-03-01', to: '2026-03-31', format: 'csv' }, tax)).status).toBe(201);
    expect((await admin('POST', `/admin/organizations/${org.id}/calculate`, { currency: 'usd', customer_address: austin, line_items: [{ id: 'c', amount: 999, product_id: 'p' }] })).status).toBe(200);
    expect((await admin('GET', `/admin/organizations/${org.id}/calculations?limit=10`)).json.total).toBe(4);

    // Connectors and the spec playground.
    expect((await admin('GET', '/admin/connectors')).json.data.length).toBeGreaterThan(1);
    const rilletSpec = (await admin('GET', '/admin/connectors/rillet/spec')).text;
    expect((await admin('POST', '/admin/specs/validate', { yaml: rilletSpec })).json.data.valid).toBe(true);
    const rilCustomer = [...ril.data.customers.values()][0]!;
    const mapped = await admin('POST', '/admin/specs/try-mapping', { yaml: rilletSpec, stream: 'customers', record: rilCustomer });
    expect(mapped.status, mapped.text).toBe(200);

    // Connections: Sequence in one step (webhooks registered, a tax key), Rillet in two.
    const sq = await admin('POST', '/admin/connections', { connector: 'sequence', organization_id: org.id, environment: 'sandbox', credentials: { client_id: seq.clientId, client_secret: seq.clientSecret }, base_url: seq.url });
    expect(sq.status, sq.text).toBe(201);
    const usd = [...ril.data.subsidiaries.values()].find((x) => x.currency === 'USD')!;
    const r1 = (await admin('POST', '/admin/connections', { connector: 'rillet', organization_id: org.id, credentials: { api_key: ril.apiKey }, base_url: ril.url })).json.data;
    const rilConn = r1.connection.id as string;
    expect((await admin('GET', `/admin/connections/${rilConn}/choices/subsidiary_id`)).json.data.map((c: { value: string }) => c.value)).toContain(usd.id);
    ril.webhookTargets = [{ url: `${proxyUrl}${new URL(r1.webhook_url).pathname}` }];
    expect((await admin('PATCH', `/admin/connections/${rilConn}`, { settings: { subsidiary_id: usd.id }, credentials: { signing_token: ril.signingToken } })).json.data.connection.status).toBe('active');
    expect((await admin('GET', `/admin/connections?organization_id=${org.id}&status=active`)).json.data).toHaveLength(2);
    await waitFor('backfill', async () => (await admin('GET', `/admin/connections/${rilConn}`)).json.data.backfill?.status === 'succeeded', 30_000, 200);
    const started = (await admin('POST', `/admin/connections/${rilConn}/sync`, { streams: ['customers'], full: true })).json.data;
    await waitFor('the sync run', async () => ['succeeded', 'failed'].includes((await admin('GET', `/admin/connections/${rilConn}/syncs/${started.run_id}`)).json.data.status), 30_000, 200);
    const page = (await admin('GET', `/admin/connections/${rilConn}/records/customers?limit=2`)).json;
    expect(page.data.length).toBeGreaterThan(0);
    expect((await admin('GET', `/admin/connections/${rilConn}/records/customers/${page.data[0].external_id}`)).status).toBe(200);
    // The status as server-sent events: the first `event: status` carries a ConnectionsStatus.
    const ac = new AbortController();
    const sse = await request(`${s.url}/admin/connections/${rilConn}/status/stream`, { headers: auth, signal: ac.signal });
    let buffered = '';
    for await (const chunk of sse.body) {
      buffered += String(chunk);
      if (/^event: status\ndata: .*\n\n/m.test(buffered)) break;
    }
    ac.abort();
    check('GET', `/admin/connections/${rilConn}/status/stream`, undefined, sse.statusCode, String(sse.headers['content-type']), '');
    const statusEvent = JSON.parse(/^event: status\ndata: (.*)$/m.exec(buffered)![1]!);
    const v = ajv.compile({ $ref: 'https://taxbridge.test/openapi.json#/components/schemas/ConnectionsStatus' });
    expect(v(statusEvent), ajv.errorsText(v.errors)).toBe(true);
    // Not an OAuth connection: the error answer is checked against ApiError.
    expect((await admin('POST', `/admin/connections/${rilConn}/reauthorize`)).status).toBe(409);

    // A Rillet invoice: a signed delivery (through the proxy), an inbox event, a write-back job; the billing systems' call.
    const txCustomer = [...ril.data.customers.values()].find((c) => c.address?.state === 'TX') ?? rilCustomer;
    const inv = ril.createInvoice({ customer_id: txCustomer.id, subsidiary_id: usd.id, status: 'UNPAID', itemCount: 1 });
    const event = await waitFor('the event', async () => (await admin('GET', `/admin/events?connection=${rilConn}`)).json.data[0], 20_000, 100);
    expect((await admin('GET', `/admin/events/${event.id}`)).status).toBe(200);
    const job = await waitFor('the write-back job', async () => (await admin('GET', `/admin/writebacks?connection=${rilConn}`)).json.data[0], 20_000, 100);
    expect((await admin('GET', `/admin/writebacks/${job.id}`)).status).toBe(200);
    expect((await admin('POST', `/admin/writebacks/${job.id}/replay`)).status).toBe(200);
    expect((await admin('POST', `/admin/events/${event.id}/replay`)).status).toBe(202);
    expect((await call('POST', '/tax_api/v1/rillet/calculate_invoice_tax', { external_id: inv.id }, tax)).status).toBeLessThan(300);
    expect((await admin('GET', '/admin/webhooks/unrouted?connector=quickbooks')).status).toBe(200);
    expect((await admin('GET', `/admin/webhooks/refused?connection=${rilConn}`)).status).toBe(200);
    expect((await call('POST', `/webhooks/whk_${'0'.repeat(32)}`, { forged: true })).status).toBe(404);
    expect((await call('POST', '/webhooks/connectors/quickbooks', { eventNotifications: [] })).status).toBeGreaterThanOrEqual(400);

    // The console and its session; the OAuth redirect back (an unknown state).
    expect([200, 503]).toContain((await call('GET', '/console')).status);
    expect((await call('GET', '/console/assets/none.js')).status).toBe(404);
    const signIn = await call('POST', '/console/session', { token: TOKEN });
    expect(signIn.status).toBe(201);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    expect((await call('GET', '/console/session', undefined, { cookie })).status).toBe(200);
    expect((await call('DELETE', '/console/session', undefined, { cookie, 'x-csrf-token': signIn.json.data.csrf_token })).status).toBe(204);
    expect((await call('GET', `/oauth/callback?state=${'s'.repeat(43)}&code=c`, undefined, { accept: 'application/json' })).status).toBe(400);

    // Disconnect last.
    expect((await admin('DELETE', `/admin/connections/${sq.json.data.connection.id}`)).json.data.status).toBe('disconnected');

    // Every documented operation was answered and checked.
    const documented = Object.entries(doc.paths as Json).flatMap(([p, ops]) => Object.keys(ops as Json).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented.filter((o) => !answered.has(o))).toEqual([]);
  }, 120_000);

  it('admin request bodies are checked by the same schemas: unknown fields, wrong types, prototype keys', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/admin/organizations', { name: 'X', mode: 'test', colour: 'red' }, 'colour'],
      ['POST', '/admin/organizations', { name: 'X', mode: 'staging' }, 'mode'],
      ['POST', '/admin/organizations', { name: 5, mode: 'test' }, 'name'],
      ['POST', '/admin/organizations', JSON.parse('{"name":"X","mode":"test","__proto__":{"mode":"live"}}'), '__proto__'],
      ['POST', '/admin/organizations', { name: 'X', mode: 'test', origin_address: { country: 'US', zip: '78701' } }, 'origin_address.zip'],
      ['POST', '/admin/connections', { connector: 'sequence', organization_id: 'org_test_x', skip_webhooks: 'yes' }, 'skip_webhooks'],
      ['POST', '/admin/connections', { connector: 'sequence', organization_id: 'org_test_x', credentials: { client_id: 7 } }, 'credentials.client_id'],
      ['POST', '/admin/connections', { connector: 'sequence' }, 'organization_id'],
    ];
    for (const [method, path, body, param] of cases) {
      const r = await request(s.url + path, { method: method as 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await r.body.json()) as Json;
      expect([r.statusCode, json.param], `${path} ${JSON.stringify(body)}`).toEqual([400, param]);
      expect(json.type).toBe('api_error');
      expect(json.message).not.toMatch(/must NOT|#\/|instancePath/);
    }
    expect(({} as Json).mode).toBeUndefined();
    // Query strings too: each parameter once, within its schema's bounds.
    const org = (await admin('POST', '/admin/organizations', { name: 'Query Co', mode: 'test' })).json.data.id;
    for (const [path, param] of [['/admin/connections?status=bogus', 'status'], ['/admin/connections?status=active&status=pending', 'status'], [`/admin/organizations/${org}/calculations?limit=501`, 'limit'], [`/admin/organizations/${org}/calculations?limit=ten`, 'limit'], [`/admin/organizations/${org}/calculations?from=2026-02-30`, 'from']] as const) {
      const r = await request(s.url + path, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect([r.statusCode, ((await r.body.json()) as Json).param], path).toEqual([400, param]);
    }
  });
});
