/**
 * Per-connection hosts: `environments.*.base_url` templated over settings (Chargebee's
 * `https://{{ settings.site }}.chargebee.com/api/v2`). The validator requires a `pattern` on every setting a
 * host template uses; values are checked against it when given and when the URL is built; the result must be
 * https, with plain http only to loopback and only behind the deployment switch. The admin-only base_url
 * override stays (fakes, proxies) but is https or loopback http, and moving an existing connection to another
 * host needs its secrets again. A connector without webhooks shows no webhook URL anywhere.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/index.ts';
import { ConnectorRegistry } from '../src/connections/registry.ts';
import { SecretBox, createKeyring, parseMasterKey } from '../src/connections/secrets.ts';
import { ConnectionService } from '../src/connections/service.ts';
import { connectionStatus } from '../src/connections/status.ts';
import { renderUrlTemplate } from '../src/http/base-url.ts';
import { checkSpecText } from '../src/spec/index.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { createOrganization } from '../src/tax/orgs.ts';

const ROOT = join(import.meta.dirname, '..');
let api: Server;
let apiUrl: string;
let ril: FakeRillet;
let dir: string;
const seen: Array<{ path: string; key?: string }> = [];

function spec(baseUrl: string, pattern = `pattern: '^[a-z0-9][a-z0-9-]{0,62}$'`): string {
  return `spec_version: 1
name: tenantbooks
title: Tenant Books
environments:
  production: { base_url: '${baseUrl}' }
  sandbox: { base_url: '${baseUrl}' }
credentials:
  - { name: api_key, title: API key }
settings:
  - { name: site, title: Site, required: true, ${pattern} }
auth: { type: api_key, in: header, name: X-Api-Key, value: '{{ credentials.api_key }}' }
check:
  request: { path: /check }
streams:
  customers:
    entity: customer
    request: { path: /customers }
    records: customers
    mapping: '{ "external_id": id, "name": name }'
`;
}

function codes(text: string): string[] {
  return checkSpecText('tenantbooks.yaml', text).diagnostics.filter((d) => d.severity === 'error').map((d) => d.code);
}

async function service(allowLoopbackHttp: boolean): Promise<{ svc: ConnectionService; store: Store; org: string }> {
  const store = await openStore({ memory: true });
  const box = new SecretBox(createKeyring(parseMasterKey(randomBytes(32).toString('base64'), 'test')));
  const svc = new ConnectionService({ store, registry: ConnectorRegistry.load(dir), box, publicUrl: 'https://tb.example.test', allowLoopbackHttp });
  const org = (await createOrganization(store, { name: 'Hosts Co', mode: 'test' })).id;
  return { svc, store, org };
}

beforeAll(async () => {
  api = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    seen.push({ path: u.pathname, key: req.headers['x-api-key'] as string | undefined });
    const m = /^\/([a-z0-9-]+)\/api\/(check|customers)$/.exec(u.pathname);
    if (!m || req.headers['x-api-key'] !== `key-${m[1]}`) return res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(m[2] === 'check' ? { ok: true } : { customers: [{ id: `${m[1]}-1`, name: `Customer of ${m[1]}` }] }));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  ril = await startFakeRillet({ counts: { customers: 2 } as never });
  dir = mkdtempSync(join(tmpdir(), 'tb-hosts-'));
  writeFileSync(join(dir, 'tenantbooks.yaml'), spec(`${apiUrl}/{{ settings.site }}/api`));
  copyFileSync(join(ROOT, 'connectors', 'rillet.yaml'), join(dir, 'rillet.yaml'));
});

afterAll(async () => {
  await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  await ril?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('templated hosts in the spec language', () => {
  it('validate requires a pattern on every setting a host template uses, and plain setting paths only', () => {
    expect(codes(spec('https://{{ settings.site }}.chargebee.com/api/v2'))).toEqual([]);
    expect(codes(spec('https://{{ settings.site }}.chargebee.com/api/v2', ''))).toEqual(['LINT_HOST_SETTING_PATTERN', 'LINT_HOST_SETTING_PATTERN']); // production and sandbox
    expect(codes(spec('https://{{ $lowercase(settings.site) }}.chargebee.com/api/v2'))).toContain('LINT_HOST_TEMPLATE');
    expect(codes(spec('https://{{ settings.tenant }}.chargebee.com/api/v2'))).toContain('LINT_UNDECLARED_SETTING');
    expect(codes(spec('http://{{ settings.site }}.chargebee.com/api/v2'))).toContain('LINT_HOST_TEMPLATE');
    expect(codes(spec('ftp://api.example.com'))).toContain('LINT_URL_INSECURE');
    const d = checkSpecText('tenantbooks.yaml', spec('https://{{ settings.site }}.chargebee.com/api/v2', '')).diagnostics[0]!;
    expect(d).toMatchObject({ line: 5, path: 'environments.production.base_url' });
    expect(d.hint).toMatch(/add a pattern to setting site/);
  });

  it('renders only values matching the pattern in full, and only to https', () => {
    const settingSpecs = [{ name: 'site', title: 'Site', pattern: '[a-z0-9-]+' }, { name: 'instance_url', title: 'Instance', pattern: 'https?://[a-z0-9.-]+' }];
    const r = (tpl: string, settings: Record<string, unknown>, allowLoopbackHttp = false) => renderUrlTemplate(tpl, { settings, settingSpecs, allowLoopbackHttp, what: 'the base URL' });
    expect(r('https://{{ settings.site }}.chargebee.com/api/v2', { site: 'acme-test' })).toBe('https://acme-test.chargebee.com/api/v2');
    // The pattern has no anchors; a prefix match is still refused.
    for (const site of ['evil.com/x', 'acme.evil.com', 'a@b', 'acme#', '']) expect(() => r('https://{{ settings.site }}.chargebee.com', { site })).toThrow(/pattern|has not set/);
    expect(() => r('{{ settings.instance_url }}/services', { instance_url: 'http://attacker.example' })).toThrow(expect.objectContaining({ code: 'CONNECTION_BASE_URL', message: expect.stringMatching(/must be an https URL/) }));
    expect(() => r('{{ settings.instance_url }}', { instance_url: 'http://127.0.0.1' })).toThrow(/allow_insecure_loopback/);
    expect(r('{{ settings.instance_url }}', { instance_url: 'http://127.0.0.1' }, true)).toBe('http://127.0.0.1');
    expect(r('{{ settings.instance_url }}/x', { instance_url: 'https://na1.my.salesforce.com' })).toBe('https://na1.my.salesforce.com/x');
  });
});

describe('connections on a templated host, over sockets', () => {
  it('reaches the host of its own site; a bad site is refused where it is given', async () => {
    const { svc, store, org } = await service(true);
    const r = await svc.connect({ connector: 'tenantbooks', organization_id: org, credentials: { api_key: 'key-acme-1' }, settings: { site: 'acme-1' } });
    expect(r.connection.status).toBe('active');
    expect(seen.at(-1)).toEqual({ path: '/acme-1/api/check', key: 'key-acme-1' });
    await expect(svc.connect({ connector: 'tenantbooks', organization_id: org, credentials: { api_key: 'k' }, settings: { site: '127.0.0.1:1/evil' } })).rejects.toMatchObject({ code: 'CONNECTION_INPUT', details: { field: 'settings.site' } });
    await expect(svc.update(r.connection.id, { settings: { site: 'x/../../admin' } })).rejects.toMatchObject({ code: 'CONNECTION_INPUT' });
    // A value stored before the pattern existed (or edited in the store) is refused when the URL is built.
    const doc = await svc.get(r.connection.id);
    await store.put('connections', doc.id, { ...doc, settings: { site: 'evil.example/x' } });
    const { createHttpClient } = await import('../src/http/index.ts');
    expect(() => createHttpClient(svc.specOf(doc), svc.context({ ...doc, settings: { site: 'evil.example/x' } }))).toThrow(expect.objectContaining({ code: 'CONNECTION_BASE_URL' }));
    await store.close();
  });

  it('refuses plain http to loopback unless the deployment allows it', async () => {
    const { svc, store, org } = await service(false);
    await expect(svc.connect({ connector: 'tenantbooks', organization_id: org, credentials: { api_key: 'key-acme-2' }, settings: { site: 'acme-2' } })).rejects.toMatchObject({ code: 'CONNECTION_BASE_URL', message: expect.stringMatching(/plain http/) });
    expect(seen.some((s) => s.path.startsWith('/acme-2/'))).toBe(false);
    await store.close();
  });

  it('keeps the admin base_url override for fakes and proxies: https or loopback http; a new host needs the secrets again', async () => {
    const { svc, store, org } = await service(true);
    await expect(svc.connect({ connector: 'rillet', organization_id: org, credentials: { api_key: ril.apiKey }, base_url: 'http://attacker.example' })).rejects.toMatchObject({ code: 'CONNECTION_INPUT', details: { field: 'base_url' } });
    const r = await svc.connect({ connector: 'rillet', organization_id: org, credentials: { api_key: ril.apiKey }, base_url: ril.url });
    expect(r.connection.status).toBe('pending');
    const moved = `http://localhost:${new URL(ril.url).port}`;
    await expect(svc.update(r.connection.id, { base_url: moved })).rejects.toMatchObject({ code: 'CONNECTION_INPUT', message: expect.stringMatching(/secrets again \(api_key\)/) });
    const ok = await svc.update(r.connection.id, { base_url: moved, credentials: { api_key: ril.apiKey } });
    expect(ok.connection.base_url).toBe(moved);
    await store.close();
  });
});

describe('webhook URLs', () => {
  it('a connector without webhooks shows none (connect result, view, status); one with webhooks still does', async () => {
    const { svc, store, org } = await service(true);
    const r = await svc.connect({ connector: 'tenantbooks', organization_id: org, credentials: { api_key: 'key-acme-3' }, settings: { site: 'acme-3' } });
    expect(r.webhook_url).toBeUndefined();
    expect(r.connection.webhook_url).toBeUndefined();
    expect(r.messages.join(' ')).not.toMatch(/webhook/i);
    const doc = await svc.get(r.connection.id);
    expect(svc.view(doc).webhook_url).toBeUndefined();
    expect(svc.webhookUrl(doc)).toBeUndefined();
    expect((await connectionStatus(store, doc, svc.specOf(doc))).webhooks.mode).toBe('none');
    const withHooks = await svc.connect({ connector: 'rillet', organization_id: org, credentials: { api_key: ril.apiKey }, base_url: ril.url });
    expect(withHooks.webhook_url).toMatch(/^https:\/\/tb\.example\.test\/webhooks\/whk_/);
    expect(withHooks.connection.webhook_url).toBe(withHooks.webhook_url);
    await store.close();
  });
});
