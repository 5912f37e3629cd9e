/**
 * `calls_tax_api` decides the tax API key, not `category`: connecting a billing system that declares it
 * mints a key (shown once) and says where to paste it; one that does not (Stripe-like: billing, but it never
 * calls the tax API) gets no key and no such message. The check request goes to a fake upstream on a socket.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorRegistry } from '../src/connections/registry.ts';
import { SecretBox, createKeyring, parseMasterKey } from '../src/connections/secrets.ts';
import { ConnectionService } from '../src/connections/service.ts';
import { connectorSummary } from '../src/server/connections-api.ts';
import { openStore } from '../src/store/index.ts';
import { API_KEYS } from '../src/tax/keys.ts';
import { createOrganization } from '../src/tax/orgs.ts';

const minimal = readFileSync(join(import.meta.dirname, 'fixtures', 'specs', 'valid-minimal.yaml'), 'utf8');
/** valid-minimal.yaml as billing system `name`, with a check request and no webhooks. */
const billingSpec = (name: string, callsTaxApi: string) =>
  minimal
    .replace('name: acme', `name: ${name}\ncategory: billing${callsTaxApi}`)
    .replace('title: Acme Billing', `title: ${name}`)
    .replace(/\nwebhooks:[\s\S]*$/, '\n')
    .replace('definitions:\n', 'check:\n  request: { path: /me }\ndefinitions:\n');

describe('calls_tax_api on connect', () => {
  let upstream: Server;
  let url: string;
  let dir: string;
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      res.writeHead(req.headers.authorization === 'Bearer good' ? 200 : 401, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'taxbridge-calls-tax-api-'));
    writeFileSync(join(dir, 'caller.yaml'), billingSpec('caller', '\ncalls_tax_api: true'));
    writeFileSync(join(dir, 'nocaller.yaml'), billingSpec('nocaller', ''));
  });
  afterAll(async () => {
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('mints a key only for a connector that declares calls_tax_api: true', async () => {
    const registry = ConnectorRegistry.load(dir);
    expect(registry.failures).toEqual([]);
    const store = await openStore({ memory: true });
    const box = new SecretBox(createKeyring(parseMasterKey(randomBytes(32).toString('base64'), 'test')));
    const svc = new ConnectionService({ store, registry, box, publicUrl: 'http://127.0.0.1:9999' });
    const org = (await createOrganization(store, { name: 'Test Co', mode: 'test' })).id;

    const caller = await svc.connect({ connector: 'caller', organization_id: org, credentials: { api_key: 'good', webhook_secret: 'x' }, base_url: url });
    expect(caller.connection.status).toBe('active');
    expect(caller.tax_api_key).toMatch(/^tb_test_/);
    expect(caller.messages.join('\n')).toMatch(/Tax API key for caller \(shown once, store it now\): paste it into caller's/);

    const none = await svc.connect({ connector: 'nocaller', organization_id: org, credentials: { api_key: 'good', webhook_secret: 'x' }, base_url: url });
    expect(none.connection.status).toBe('active');
    expect(none.tax_api_key).toBeUndefined();
    expect(none.connection.tax_api_key).toBeUndefined();
    expect(none.messages.join('\n')).not.toMatch(/paste it/);
    expect((await store.list(API_KEYS)).length).toBe(1);

    expect(connectorSummary(registry.get('caller').spec, 'caller.yaml')).toMatchObject({ category: 'billing', calls_tax_api: true });
    expect(connectorSummary(registry.get('nocaller').spec, 'nocaller.yaml')).toMatchObject({ category: 'billing', calls_tax_api: false });
    await store.close();
  });
});
