/**
 * The query strings of the webhook admin routes, the API keys list, the product tax code removal and the OAuth
 * callback, over real sockets against `taxbridge serve` in process: what an attacker would send (a limit that is
 * no integer or far too large, a parameter given twice, overlong ids, an unknown status) is a 400 naming the
 * parameter, never a 5xx and never an unfiltered answer; well-formed queries keep their meaning (comma-separated
 * statuses, dead=1, default limits). Their bounds live in schemas/admin-api/ (the *_query definitions) and
 * /openapi.json describes them from there.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, freePort, inProcessConfig, startTestServer } from './helpers/e2e.ts';

const TOKEN = `t_${randomBytes(16).toString('hex')}`;
const admin = adminClient(() => server.url, TOKEN);
let server: RunningServer;
let dir: string;
let org: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tb-query-'));
  server = await startTestServer(inProcessConfig({ dataDir: join(dir, 'data'), port: await freePort(), env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }));
  org = (await admin('POST', '/admin/organizations', { name: 'Query Params Co', mode: 'test' })).json.data.id;
}, 60_000);

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const long = (n: number) => 'x'.repeat(n);

describe('admin query parameters', () => {
  it('refuses what an attacker would send with a 400 naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      // GET /admin/events
      ['/admin/events?limit=ten', 'limit'],
      ['/admin/events?limit=1.5', 'limit'],
      ['/admin/events?limit=0', 'limit'],
      ['/admin/events?limit=-1', 'limit'],
      ['/admin/events?limit=1000000000', 'limit'],
      ['/admin/events?limit=99999999999999999999', 'limit'],
      ['/admin/events?limit=1&limit=2', 'limit'],
      ['/admin/events?status=bogus', 'status'],
      ['/admin/events?status=pending,bogus', 'status'],
      ['/admin/events?status=pending&status=failed', 'status'],
      ['/admin/events?status=,', 'status'],
      ['/admin/events?status=__proto__', 'status'],
      [`/admin/events?connection=${long(101)}`, 'connection'],
      ['/admin/events?connection=a&connection=b', 'connection'],
      [`/admin/events?type=${long(201)}`, 'type'],
      ['/admin/events?type=a&type=b', 'type'],
      // GET /admin/webhooks/unrouted
      ['/admin/webhooks/unrouted', 'connector'],
      ['/admin/webhooks/unrouted?connector=', 'connector'],
      ['/admin/webhooks/unrouted?connector=Not-A-Name', 'connector'],
      [`/admin/webhooks/unrouted?connector=${long(41)}`, 'connector'],
      ['/admin/webhooks/unrouted?connector=quickbooks&connector=rillet', 'connector'],
      ['/admin/webhooks/unrouted?connector=quickbooks&limit=101', 'limit'],
      ['/admin/webhooks/unrouted?connector=quickbooks&limit=1e3', 'limit'],
      // GET /admin/webhooks/refused
      ['/admin/webhooks/refused?limit=101', 'limit'],
      ['/admin/webhooks/refused?limit=1000000000', 'limit'],
      ['/admin/webhooks/refused?limit=abc', 'limit'],
      [`/admin/webhooks/refused?connection=${long(101)}`, 'connection'],
      ['/admin/webhooks/refused?connector=Bad!', 'connector'],
      ['/admin/webhooks/refused?connector=a&connector=b', 'connector'],
      // GET /admin/writebacks
      ['/admin/writebacks?status=applied,bogus', 'status'],
      ['/admin/writebacks?status=dead&status=pending', 'status'],
      ['/admin/writebacks?dead=yes', 'dead'],
      ['/admin/writebacks?dead=true&dead=true', 'dead'],
      [`/admin/writebacks?document=${long(501)}`, 'document'],
      ['/admin/writebacks?limit=1000000000', 'limit'],
      ['/admin/writebacks?limit=0x10', 'limit'],
      // GET /admin/keys
      [`/admin/keys?organization_id=${long(101)}`, 'organization_id'],
      ['/admin/keys?organization_id=a&organization_id=b', 'organization_id'],
      // DELETE /admin/organizations/{org}/product_tax_codes
      ['DELETE /product_tax_codes', 'product_id'],
      ['DELETE /product_tax_codes?product_id=', 'product_id'],
      [`DELETE /product_tax_codes?product_id=${long(501)}`, 'product_id'],
      ['DELETE /product_tax_codes?product_id=a&product_id=b', 'product_id'],
      [`DELETE /product_tax_codes?product_id=a&connection_id=${long(101)}`, 'connection_id'],
      ['DELETE /product_tax_codes?product_id=a&connection_id=c1&connection_id=c2', 'connection_id'],
    ];
    for (const [what, param] of cases) {
      const [method, path] = what.startsWith('DELETE ') ? ['DELETE', `/admin/organizations/${org}${what.slice(7)}`] : ['GET', what];
      const r = await admin(method, path);
      expect([r.status, r.json?.code, r.json?.param], what.slice(0, 90)).toEqual([400, 'validation_errors', param]);
      expect(r.json.message, what.slice(0, 90)).toMatch(new RegExp(`^${param}\\b`));
      expect(r.json.message.length, what.slice(0, 90)).toBeLessThan(400);
      expect(JSON.stringify(r.json)).not.toMatch(/at \w+ \(|node_modules|#\/|instancePath/);
    }
  });

  it('keeps the meaning of well-formed queries', async () => {
    for (const path of [
      '/admin/events',
      '/admin/events?status=pending,failed&limit=10000',
      '/admin/events?status=%20pending%20,processed&connection=conn_x&type=INVOICE.CREATED',
      '/admin/events?limit=',
      '/admin/webhooks/unrouted?connector=quickbooks',
      '/admin/webhooks/unrouted?connector=quickbooks&limit=100',
      '/admin/webhooks/refused',
      '/admin/webhooks/refused?limit=1',
      '/admin/writebacks?dead=1',
      '/admin/writebacks?dead=false&status=applied,unchanged,no_tax&document=inv_1&limit=5',
      `/admin/keys?organization_id=${org}`,
    ]) {
      const r = await admin('GET', path);
      expect(r.status, path).toBe(200);
      expect(Array.isArray(r.json.data) || typeof r.json.data === 'object', path).toBe(true);
    }
    // An unknown parameter is refused, as an unknown body field is: a misspelt filter must not list everything.
    for (const path of ['/admin/keys?unknown=1', '/admin/events?stauts=dead', '/admin/writebacks?__proto__=1', '/admin/events?limit[]=1', '/admin/webhooks/refused?constructor=1', '/admin/keys?limit=5']) {
      const r = await admin('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.json, path).toMatchObject({ code: 'validation_errors', message: expect.stringContaining('unknown query parameter') });
    }
    // Still answered by their handlers: both scopes at once, an unknown connection, a connector not loaded.
    expect((await admin('GET', '/admin/webhooks/refused?connection=conn_x&connector=rillet')).json).toMatchObject({ code: 'validation_errors' });
    expect((await admin('GET', '/admin/webhooks/refused?connection=conn_nope')).status).toBe(404);
    expect((await admin('GET', '/admin/webhooks/refused?connector=nosuchsystem')).status).toBe(404);
    expect((await admin('POST', `/admin/organizations/${org}/product_tax_codes`, { product_id: 'free', tax_code: 'exempt' })).status).toBe(200);
    expect((await admin('DELETE', `/admin/organizations/${org}/product_tax_codes?product_id=free`)).status).toBe(204);
  });

  it('the OAuth callback names the parameter that is too long or repeated, with a 400 page, never a 5xx', async () => {
    const state = 'A'.repeat(43);
    const cases: Array<[string, string]> = [
      [`state=${long(65)}&code=x`, 'state'],
      [`state=${state}&code=${long(2049)}`, 'code'],
      [`state=${state}&error=${long(65)}`, 'error'],
      [`state=${state}&error=access_denied&error_description=${long(501)}`, 'error_description'],
      [`state=${state}&state=${state}&code=x`, 'state'],
      [`state=${state}&code=x&code=y`, 'code'],
      [`state=${state}&code=x&realmId=${long(513)}`, 'realmId'],
    ];
    for (const [q, param] of cases) {
      const res = await request(`${server.url}/oauth/callback?${q}`, { headers: { accept: 'application/json' } });
      const body = (await res.body.json()) as { code: string; message: string };
      expect([res.statusCode, body.code], q.slice(0, 80)).toEqual([400, 'oauth_callback_invalid']);
      expect(body.message, q.slice(0, 80)).toContain(param);
    }
  });

  it('/openapi.json describes these parameters from their schemas, lists comma-separated', async () => {
    const doc = (await (await request(`${server.url}/openapi.json`)).body.json()) as any;
    const params = (path: string, method = 'get') => doc.paths[path][method].parameters.filter((p: any) => p.in === 'query');
    const events = params('/admin/events');
    expect(events.map((p: any) => p.name)).toEqual(['connection', 'status', 'type', 'limit']);
    expect(events.find((p: any) => p.name === 'status')).toMatchObject({ style: 'form', explode: false, schema: { $ref: '#/components/schemas/WebhooksEventsQuery/properties/status' } });
    expect(doc.components.schemas.WebhooksEventsQuery.properties.limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 10000 });
    expect(doc.components.schemas.WebhooksUnroutedQuery.properties.limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
    expect(params('/admin/webhooks/unrouted').find((p: any) => p.name === 'connector').required).toBe(true);
    expect(params('/admin/organizations/{org}/product_tax_codes', 'delete').find((p: any) => p.name === 'product_id').required).toBe(true);
    for (const path of ['/admin/webhooks/refused', '/admin/writebacks', '/admin/keys', '/oauth/callback']) {
      for (const p of params(path)) expect(p.schema.$ref, `${path} ${p.name}`).toMatch(/^#\/components\/schemas\/\w+Query\/properties\//);
    }
  });
});
