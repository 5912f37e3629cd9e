/**
 * OAuth 2.0 authorization code connections over real sockets: taxbridge serve in process, the generic fake
 * authorization server (fakes/oauth.ts: PKCE S256 required, rotating refresh tokens, realmId on the
 * redirect) and a small resource API in this file that accepts only live tokens of the right company.
 * The spec (written here) takes realm_id from the redirect and puts it in a templated base URL.
 *
 * One story, in order: connect -> consent -> callback -> active + backfill; a 401 mid-sync refreshes once;
 * a token within the refresh margin is refreshed before use; concurrent requests share one refresh; a
 * restart uses the rotated refresh token; a revoked consent -> needs_reauthorization (schedules stopped,
 * write-back waiting); re-authorize (another company refused, then the same) -> active, the job proceeds;
 * denied / reused / expired / garbage callbacks; disconnect revokes the grant.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuth, type FakeOAuth } from '../fakes/oauth.ts';
import type { ServeConfig } from '../src/config/index.ts';
import type { ConnectionDoc } from '../src/connections/model.ts';
import { createHttpClient } from '../src/http/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import type { StartSchedules } from '../src/server/connection-runtime.ts';
import { adminClient, freePort, inProcessConfig, startTestServer, until as pollUntil } from './helpers/e2e.ts';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.ts';
import { CLI } from './helpers/serve-child.ts';

const ROOT = join(import.meta.dirname, '..');
const TOKEN = `t_${randomBytes(16).toString('hex')}`;
const REALM = '9130350000001234';
const OTHER_REALM = '9130350000009999';
const CLIENT_ID = 'tb_app';
const CLIENT_SECRET = 'app:secret+with%chars';
const ITEMS = Array.from({ length: 6 }, (_, i) => ({ id: `c${i + 1}`, name: `Customer ${i + 1}` }));

let as: FakeOAuth;
let api: Server;
let apiUrl: string;
let server: RunningServer;
let config: ServeConfig;
let dataDir: string;
let orgId: string;
let connId: string;
const apiLog: Array<{ path: string; status: number; token?: string }> = [];
let onPage: ((page: number) => void) | undefined;
const scheduleEvents: string[] = [];

const startSchedules: StartSchedules = (o) => {
  scheduleEvents.push(`start ${o.conn.connection_id}`);
  return { stop: () => void scheduleEvents.push(`stop ${o.conn.connection_id}`) };
};

const admin = adminClient(() => server.url, TOKEN);

/** The browser's part: follow the authorization URL to the fake, then its redirect to taxbridge. */
async function consent(url: string, accept = 'application/json'): Promise<{ status: number; json?: any; text: string; headers: Record<string, unknown>; location: string }> {
  const v = await as.visit(url);
  expect(v.status).toBe(302);
  const res = await request(v.location!, { headers: { accept } });
  const text = await res.body.text();
  return { status: res.statusCode, text, headers: res.headers, location: v.location!, ...(accept.includes('json') ? { json: JSON.parse(text) } : {}) };
}

/** Alert notifications received (src/alerts) for a condition and status. */
let alerts: Receiver;
const alertsFor = (condition: string, status: string) =>
  alerts.got.map((g) => JSON.parse(g.body)).filter((a) => a.data.condition === condition && a.data.status === status && a.data.connection_id === connId);

const until = <T>(fn: () => Promise<T | undefined> | T | undefined, what: string, ms = 15_000): Promise<T> => pollUntil(fn, what, ms);

const stored = () => server.store.get<ConnectionDoc>('connections', connId) as Promise<ConnectionDoc>;

async function syncAndWait(): Promise<any> {
  const before = (await server.store.list<any>('sync_runs', (r) => r.connection_id === connId)).length;
  const r = await admin('POST', `/admin/connections/${connId}/sync`, { full: true });
  expect(r.status).toBe(202);
  await until(async () => ((await server.store.list<any>('sync_runs', (x) => x.connection_id === connId)).length > before ? true : undefined), 'a sync run');
  await server.runtime.idle();
  const runs = await server.store.list<any>('sync_runs', (x) => x.connection_id === connId);
  return runs.sort((a, b) => (a.started_at < b.started_at ? 1 : -1))[0];
}

function specYaml(): string {
  return `# yaml-language-server: $schema=../schemas/connector.schema.json
spec_version: 1
name: acme
title: Acme Books
environments:
  production: { base_url: '${apiUrl}/company/{{ settings.realm_id }}' }
  sandbox: { base_url: '${apiUrl}/company/{{ settings.realm_id }}' }
settings:
  - { name: realm_id, title: Company id, pattern: '^\\d{10,19}$' }
auth:
  type: oauth2_authorization_code
  authorize_url: ${as.authorizeUrl}
  token_url: ${as.tokenUrl}
  revoke_url: ${as.revokeUrl}
  scopes: [accounting]
  settings_from_redirect: { realm_id: realmId }
check:
  request: { path: /info }
streams:
  customers:
    entity: customer
    request: { path: /items }
    records: items
    pagination: { type: cursor, cursor: body.next, param: page }
    mapping: '{ "external_id": id, "name": name }'
    schedule: { cron: '0 3 * * *' }
`;
}

async function start(): Promise<void> {
  server = await startTestServer(config, { startSchedules });
}

beforeAll(async () => {
  as = await startFakeOAuth({
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [], authMethods: ['client_secret_basic'] }],
    pkce: 'required',
    tokenType: 'bearer',
    defaultConsent: () => ({ approve: true, redirectParams: { realmId: REALM }, context: { realmId: REALM } }),
  });
  api = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const m = /^\/company\/(\d+)\/(items|info)$/.exec(u.pathname);
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const check = as.checkAccessToken(token);
    const send = (status: number, body: unknown) => {
      apiLog.push({ path: u.pathname + u.search, status, token });
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (!m) return send(404, { error: 'not found' });
    if (!check.ok || check.grant.context.realmId !== m[1]) return send(401, { fault: { error: [{ message: 'AuthenticationFailed', code: '3200' }] } });
    if (m[2] === 'info') return send(200, { company: m[1] });
    const page = Number(u.searchParams.get('page') ?? '1');
    onPage?.(page);
    // The token check again: onPage may have expired it (a token dying mid-sync).
    if (!as.checkAccessToken(token).ok) return send(401, { fault: { error: [{ message: 'Token expired', code: '3200' }] } });
    send(200, { items: ITEMS.slice((page - 1) * 2, page * 2), next: page < 3 ? String(page + 1) : null });
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;

  dataDir = mkdtempSync(join(tmpdir(), 'tb-oauth-'));
  alerts = await startReceiver('/alerts');
  const connectors = join(dataDir, 'connectors');
  mkdirSync(connectors);
  writeFileSync(join(connectors, 'acme.yaml'), specYaml());
  const port = await freePort();
  config = inProcessConfig({
    dataDir: join(dataDir, 'data'),
    port,
    connectors,
    env: {
      TAXBRIDGE_ADMIN_TOKEN: TOKEN,
      TAXBRIDGE_ALLOW_LOOPBACK_HTTP: 'true',
      TAXBRIDGE_OAUTH_ACME_CLIENT_ID: CLIENT_ID,
      TAXBRIDGE_OAUTH_ACME_CLIENT_SECRET: CLIENT_SECRET,
      TAXBRIDGE_LOG_LEVEL: 'error',
      TAXBRIDGE_ALERT_URLS: alerts.url,
      TAXBRIDGE_ALERT_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    },
  });
  as.clients[0]!.redirectUris.push(`${config.publicUrl}/oauth/callback`);
  await start();
  orgId = (await admin('POST', '/admin/organizations', { name: 'OAuth Test', mode: 'test' })).json.data.id;
});

afterAll(async () => {
  await server?.close();
  await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  await as?.close();
  await alerts?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('OAuth authorization code connections', () => {
  it('connects through consent: PKCE S256 and state checked by the server, realmId kept as a setting, tokens sealed, backfill, no webhook URL', async () => {
    const r = await admin('POST', '/admin/connections', { connector: 'acme', organization_id: orgId });
    expect(r.status).toBe(201);
    const c = r.json.data;
    connId = c.connection.id;
    expect(c.connection.status).toBe('pending');
    expect(c.connection.next_step).toMatchObject({ step: 'authorize', title: 'Authorize Acme Books' });
    const url = new URL(c.authorization_url);
    expect(url.origin + url.pathname).toBe(as.authorizeUrl);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: `${config.publicUrl}/oauth/callback`, scope: 'accounting', code_challenge_method: 'S256' });
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(c.connection.webhook_url).toBeUndefined();
    expect(c.webhook_url).toBeUndefined();

    const cb = await consent(c.authorization_url);
    expect(cb.status).toBe(200);
    expect(cb.json).toMatchObject({ outcome: 'authorized', code: 'oauth_authorized', connection_id: connId, connection_status: 'active' });
    expect(cb.headers['cache-control']).toBe('no-store');
    expect(cb.headers['referrer-policy']).toBe('no-referrer');
    expect(as.stats.codeExchanges).toBe(1);

    const doc = await stored();
    expect(doc.status).toBe('active');
    expect(doc.settings.realm_id).toBe(REALM);
    expect(doc.oauth!.access_token).toMatch(/^enc:v1:/);
    expect(doc.oauth!.refresh_token).toMatch(/^enc:v1:/);
    expect(doc.oauth!.expires_at).toBeDefined();
    await until(async () => ((await stored()).backfill?.status === 'succeeded' ? true : undefined), 'the backfill');
    expect(await server.store.countEntities(connId, 'customers')).toEqual({ active: 6, deleted: 0 });
    expect(apiLog.every((l) => l.path.startsWith(`/company/${REALM}/`))).toBe(true);
    expect(scheduleEvents).toContain(`start ${connId}`);

    const st = await admin('GET', `/admin/connections/${connId}`);
    expect(st.json.data.status).toBe('active');
    expect(st.json.data.authorization).toMatchObject({ refresh_token: true, expires_at: doc.oauth!.expires_at });
    expect(st.json.data.webhook_url).toBeUndefined();
    expect(JSON.stringify(st.json)).not.toContain('enc:v1:');

    // Tokens never reach the data folder in clear.
    const raw = readdirSync(join(dataDir, 'data', 'collections')).map((f) => readFileSync(join(dataDir, 'data', 'collections', f), 'utf8')).join('');
    for (const g of as.grants()) expect(raw).not.toContain(g.refreshToken!);
  });

  it('refreshes once on a 401 mid-sync and persists the rotated refresh token with the new access token', async () => {
    const before = await stored();
    const refreshes = as.stats.refreshes;
    let expired = false;
    onPage = (page) => {
      if (page === 2 && !expired) {
        expired = true;
        as.expireAccessTokens();
      }
    };
    const run = await syncAndWait();
    onPage = undefined;
    expect(run.status).toBe('ok');
    expect(run.records).toBe(6);
    expect(as.stats.refreshes).toBe(refreshes + 1);
    expect(apiLog.filter((l) => l.status === 401).length).toBe(1);
    const after = await stored();
    expect(after.oauth!.version).toBe(before.oauth!.version + 1);
    expect(after.oauth!.refresh_token).not.toBe(before.oauth!.refresh_token);
    expect(after.oauth!.refreshed_at).toBeDefined();
  });

  it('refreshes before use when the token expires within the margin, with no 401 first', async () => {
    as.setAccessTokenTtl(120); // under the default 300 s margin
    as.expireAccessTokens();
    await syncAndWait(); // 401 -> refresh: the new token lives 120 s
    const refreshes = as.stats.refreshes;
    const unauthorized = apiLog.filter((l) => l.status === 401).length;
    const run = await syncAndWait();
    expect(run.status).toBe('ok');
    expect(as.stats.refreshes).toBeGreaterThan(refreshes);
    expect(apiLog.filter((l) => l.status === 401).length).toBe(unauthorized);
    as.setAccessTokenTtl(3600);
  });

  it('concurrent requests wait for one refresh and all use its token', async () => {
    as.setAccessTokenTtl(3600);
    // Make the stored token due: within the margin by the stored expiry.
    const doc = await stored();
    await server.store.put('connections', connId, { ...doc, oauth: { ...doc.oauth!, expires_at: new Date(Date.now() + 10_000).toISOString() } });
    const refreshes = as.stats.refreshes;
    const spec = server.connections.specOf(doc);
    const client = createHttpClient(spec, server.connections.context(await stored()));
    try {
      const rs = await Promise.all(Array.from({ length: 8 }, () => client.request({ path: '/info' })));
      expect(rs.every((r) => r.status === 200)).toBe(true);
    } finally {
      await client.close();
    }
    expect(as.stats.refreshes).toBe(refreshes + 1);
    const tokens = new Set(apiLog.slice(-8).map((l) => l.token));
    expect(tokens.size).toBe(1);
    expect(as.stats.invalidGrants).toBe(0);
  });

  it('after a restart the rotated refresh token is the one used', async () => {
    await server.close();
    await start();
    as.expireAccessTokens();
    const refreshes = as.stats.refreshes;
    const run = await syncAndWait();
    expect(run.status).toBe('ok');
    expect(as.stats.refreshes).toBe(refreshes + 1);
    expect(as.stats.invalidGrants).toBe(0);
  });

  it('a revoked consent puts the connection in needs_reauthorization: schedules stop, write-backs wait', async () => {
    const now = new Date().toISOString();
    const job = { id: 'wb_oauth_waiting_job_000000000001', connection_id: connId, organization_id: orgId, connector: 'acme', kind: 'invoice', stream: 'customers', document_id: 'inv_1', tax_hash: 'h', status: 'pending', trigger: 'api', attempts: 0, max_attempts: 6, created_at: now, updated_at: now };
    await server.store.put('writeback_jobs', job.id, job);
    as.revokeConsent({ realmId: REALM });
    as.expireAccessTokens();
    const stops = scheduleEvents.filter((e) => e === `stop ${connId}`).length;
    const r = await admin('POST', `/admin/connections/${connId}/sync`, { full: true });
    expect(r.status).toBe(202);
    const doc = await until(async () => ((await stored()).status === 'needs_reauthorization' ? stored() : undefined), 'needs_reauthorization');
    expect(doc.last_error).toMatchObject({ code: 'connection_needs_reauthorization' });
    expect(doc.last_error!.message).toMatch(/invalid_grant/);
    expect(doc.last_error!.message).toContain(`--connection ${connId} --reauthorize`);
    await until(() => (scheduleEvents.filter((e) => e === `stop ${connId}`).length > stops ? true : undefined), 'the schedules to stop');
    const sync = await admin('POST', `/admin/connections/${connId}/sync`, {});
    expect(sync.status).toBe(409);

    server.webhooks.writebacks!.resumeConnection(connId);
    await server.webhooks.writebacks!.idle();
    const waiting = await server.store.get<any>('writeback_jobs', job.id);
    expect(waiting).toMatchObject({ status: 'pending', attempts: 0 });
    const st = await admin('GET', `/admin/connections/${connId}`);
    expect(st.json.data.status).toBe('needs_reauthorization');
    expect(st.json.data.next_step).toMatchObject({ step: 'authorize', reauthorize: true });
    // The operator hears of it: one signed alert (test/metrics-alerts.test.ts checks the signature scheme).
    const [alert] = await until(() => (alertsFor('connection_needs_reauthorization', 'firing').length ? alertsFor('connection_needs_reauthorization', 'firing') : undefined), 'the re-authorization alert');
    expect(alert.text).toContain(`--connection ${connId} --reauthorize`);
    expect(alert.data.summary).toMatch(/invalid_grant/);
  });

  it('re-authorization for another company is refused; for the same one the connection is active again and the waiting job proceeds', async () => {
    const other = await admin('POST', `/admin/connections/${connId}/reauthorize`);
    expect(other.status).toBe(200);
    as.approveNext({ redirectParams: { realmId: OTHER_REALM }, context: { realmId: OTHER_REALM } });
    const refused = await consent(other.json.data.authorization_url);
    expect(refused.status).toBe(409);
    expect(refused.json.code).toBe('oauth_account_mismatch');
    expect((await stored()).status).toBe('needs_reauthorization');
    expect((await stored()).settings.realm_id).toBe(REALM);

    const starts = scheduleEvents.filter((e) => e === `start ${connId}`).length;
    const again = await admin('POST', `/admin/connections/${connId}/reauthorize`);
    const ok = await consent(again.json.data.authorization_url);
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ outcome: 'authorized', connection_status: 'active' });
    const doc = await stored();
    expect(doc.status).toBe('active');
    expect(doc.last_error).toBeUndefined();
    await until(() => (alertsFor('connection_needs_reauthorization', 'resolved').length ? true : undefined), 'the re-authorization alert resolved');
    expect(alertsFor('connection_needs_reauthorization', 'firing')).toHaveLength(1);
    expect(scheduleEvents.filter((e) => e === `start ${connId}`).length).toBe(starts + 1);
    const job = await until(async () => {
      const j = await server.store.get<any>('writeback_jobs', 'wb_oauth_waiting_job_000000000001');
      return j.status !== 'pending' ? j : undefined;
    }, 'the waiting job to run');
    expect(job.attempts).toBeGreaterThanOrEqual(1);
    expect(job.last_error?.code).not.toBe('connection_needs_reauthorization');
    const run = await syncAndWait();
    expect(run.status).toBe('ok');
  });

  it('answers denied consent, a reused state, an expired flow and garbage with 4xx pages', async () => {
    // Reused: the last callback URL again.
    const r1 = await admin('POST', `/admin/connections/${connId}/reauthorize`);
    const first = await consent(r1.json.data.authorization_url);
    expect(first.status).toBe(200);
    const reused = await request(first.location, { headers: { accept: 'application/json' } });
    expect(reused.statusCode).toBe(409);
    expect(((await reused.body.json()) as any).code).toBe('oauth_state_used');

    // Denied, as the HTML page a person sees.
    const r2 = await admin('POST', `/admin/connections/${connId}/reauthorize`);
    as.denyNext('access_denied', 'The user did not authorize the app');
    const denied = await consent(r2.json.data.authorization_url, 'text/html');
    expect(denied.status).toBe(403);
    expect(String(denied.headers['content-type'])).toMatch(/^text\/html/);
    expect(denied.text).toContain('Access was not granted');
    expect(denied.text).toContain('oauth_consent_denied');
    expect(denied.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect((await stored()).status).toBe('active');

    // Expired: the flow's clock moved past its 10 minutes.
    const r3 = await admin('POST', `/admin/connections/${connId}/reauthorize`);
    const state = new URL(r3.json.data.authorization_url).searchParams.get('state')!;
    const id = createHash('sha256').update(state).digest('hex');
    const flow = await server.store.get<any>('oauth_flows', id);
    await server.store.put('oauth_flows', id, { ...flow, expires_at: new Date(Date.now() - 1000).toISOString() });
    const expired = await consent(r3.json.data.authorization_url);
    expect(expired.status).toBe(410);
    expect(expired.json.code).toBe('oauth_state_expired');

    // Garbage: never 2xx or 5xx.
    const cb = `${server.url}/oauth/callback`;
    const goodState = 'A'.repeat(43);
    for (const q of ['', '?code=x', '?state=short&code=x', `?state=${goodState}&code=x`, `?state=${goodState}`, `?state=${goodState}&state=${goodState}&code=x`, `?state=${goodState}&code=${'c'.repeat(3000)}`, `?state=${goodState}&code=x&${'p=1&'.repeat(40)}`, `?state=${'%ZZ'.repeat(5)}&code=x`, `?state=${goodState}&error=access_denied`, `?x=${'a'.repeat(9000)}`]) {
      const res = await request(cb + q, { headers: { accept: 'application/json' } });
      const body = (await res.body.json()) as any;
      expect(res.statusCode, q.slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, q.slice(0, 80)).toBeLessThan(500);
      expect(typeof body.code).toBe('string');
    }
    // No admin token needed, and the admin route still requires one.
    const noToken = await request(`${server.url}/admin/connections/${connId}/reauthorize`, { method: 'POST' });
    expect(noToken.statusCode).toBe(401);
    await noToken.body.dump();
  });

  it('disconnecting revokes the grant at the system', async () => {
    const revocations = as.stats.revocations;
    const r = await admin('DELETE', `/admin/connections/${connId}`);
    expect(r.status).toBe(200);
    expect(r.json.data.status).toBe('disconnected');
    expect(r.json.data.last_error?.code).not.toBe('disconnect_incomplete');
    expect(as.stats.revocations).toBe(revocations + 1);
    expect(as.grants().filter((g) => g.context.realmId === REALM && g.revokedAt === undefined)).toEqual([]);
    const doc = await stored();
    expect(doc.oauth).toBeUndefined();
    expect(await server.store.list('oauth_flows', (f: any) => f.connection_id === connId)).toEqual([]);
  });

  it('the CLI prints the authorization URL and waits for the consent; --reauthorize --no-wait gives a new link', async () => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_LOG_LEVEL: 'error' };
    const child = spawn(process.execPath, [...CLI, 'connect', 'acme', '--org', orgId, '--server', server.url, '--wait-timeout', '60'], { cwd: ROOT, env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? 1)));
    const url = await until(() => /(http:\/\/127\.0\.0\.1:\d+\/oauth2\/authorize\?\S+)/.exec(out)?.[1], 'the URL on stdout', 30_000);
    expect(out).toMatch(/\[pending\]/);
    await until(() => (/Waiting for the consent/.test(err) ? true : undefined), 'the waiting notice', 30_000);
    const cb = await consent(url);
    expect(cb.status).toBe(200);
    expect(await exited).toBe(0);
    expect(out).toMatch(/Authorized: Acme Books conn_\w+ \[active\]/);
    const id = /Authorized: Acme Books (conn_\w+)/.exec(out)![1]!;

    const again = await new Promise<{ code: number; out: string }>((resolve) => {
      const c = spawn(process.execPath, [...CLI, 'connect', '--connection', id, '--reauthorize', '--no-wait', '--server', server.url], { cwd: ROOT, env });
      let o = '';
      c.stdout.on('data', (d) => (o += d));
      c.on('exit', (code) => resolve({ code: code ?? 1, out: o }));
    });
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/Open this URL in a browser and approve access to Acme Books/);
    const st = await new Promise<{ code: number; out: string }>((resolve) => {
      const c = spawn(process.execPath, [...CLI, 'connections', id, '--server', server.url], { cwd: ROOT, env });
      let o = '';
      c.stdout.on('data', (d) => (o += d));
      c.on('exit', (code) => resolve({ code: code ?? 1, out: o }));
    });
    expect(st.code).toBe(0);
    expect(st.out).toMatch(/authorized: .*access token expires/);
    expect(st.out).not.toMatch(/webhook URL/);
  });
});
