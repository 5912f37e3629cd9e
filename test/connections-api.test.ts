/**
 * The admin connections API in process (startServer on port 0) against the fakes: the HTTP statuses of the
 * connect flows and their errors, the two-step Rillet flow, choices, sync on demand, status, disconnect.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, startFakeSequence, type FakeRillet, type FakeSequence } from '../fakes/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer, until } from './helpers/e2e.ts';

const TOKEN = `t_${randomBytes(16).toString('hex')}`;
let seq: FakeSequence;
let ril: FakeRillet;
let server: RunningServer;
let dataDir: string;
let testOrg: string;
let liveOrg: string;
const logs: string[] = [];

const admin = adminClient(() => server.url, TOKEN);

beforeAll(async () => {
  [seq, ril] = await Promise.all([startFakeSequence({ counts: { customers: 4, products: 2, invoices: 3, creditNotes: 1 } }), startFakeRillet({ counts: { customers: 4, products: 2, invoices: 4, creditNotes: 1 } })]);
  dataDir = mkdtempSync(join(tmpdir(), 'tb-conn-api-'));
  const config = inProcessConfig({ dataDir, env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_LOG_LEVEL: 'debug' } });
  server = await startTestServer(config, { writeLog: (l) => logs.push(l) });
  testOrg = (await admin('POST', '/admin/organizations', { name: 'API Test', mode: 'test' })).json.data.id;
  liveOrg = (await admin('POST', '/admin/organizations', { name: 'API Live', mode: 'live' })).json.data.id;
});

afterAll(async () => {
  await server?.close();
  await Promise.all([seq?.close(), ril?.close()]);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('admin connections API', () => {
  it('lists the connectors with what connecting needs', async () => {
    const r = await admin('GET', '/admin/connectors');
    expect(r.status).toBe(200);
    const byName = Object.fromEntries(r.json.data.map((c: { name: string }) => [c.name, c]));
    expect(byName.sequence).toMatchObject({ title: 'Sequence', category: 'billing', calls_tax_api: true, webhooks: 'registered by API' });
    expect(byName.sequence.credentials.find((c: { name: string }) => c.name === 'client_id')).toMatchObject({ secret: false, required: true });
    expect(byName.rillet.settings).toEqual([expect.objectContaining({ name: 'subsidiary_id', required: true, choices: true })]);
    expect(r.json.failures).toEqual([]);
  });

  it('answers the connect errors with the right status and code', async () => {
    const creds = { client_id: seq.clientId, client_secret: seq.clientSecret };
    const cases: Array<[unknown, number, string, string?]> = [
      [{ connector: 'sequence', organization_id: liveOrg, environment: 'sandbox', credentials: creds, base_url: seq.url }, 400, 'connection_environment_mismatch', 'environment'],
      [{ connector: 'sequence', organization_id: testOrg, credentials: { client_id: seq.clientId, client_secret: 'bad' }, base_url: seq.url }, 422, 'connection_bad_credentials'],
      [{ connector: 'sequence', organization_id: testOrg, credentials: { client_id: seq.clientId }, base_url: seq.url }, 400, 'connection_input', 'credentials.client_secret'],
      [{ connector: 'sequence', organization_id: testOrg, credentials: creds, base_url: 'http://127.0.0.1:9' }, 502, 'connection_unreachable'],
      [{ connector: 'sequence', organization_id: testOrg, credentials: creds, base_url: 'not a url' }, 400, 'connection_input', 'base_url'],
      [{ connector: 'rillet', organization_id: testOrg, credentials: { api_key: ril.apiKey }, settings: { subsidary_id: 'x' }, base_url: ril.url }, 400, 'connection_input', 'settings.subsidary_id'],
    ];
    for (const [body, status, code, param] of cases) {
      const r = await admin('POST', '/admin/connections', body);
      expect(r.status, JSON.stringify(r.json)).toBe(status);
      expect(r.json.code).toBe(code);
      if (param) expect(r.json.param).toBe(param);
    }
    expect((await admin('GET', '/admin/connections')).json.data).toEqual([]);
  }, 60_000);

  it('connects Rillet in two steps, syncs on demand, reports status and disconnects', async () => {
    const r1 = await admin('POST', '/admin/connections', { connector: 'rillet', organization_id: testOrg, credentials: { api_key: ril.apiKey }, base_url: ril.url });
    expect(r1.status).toBe(201);
    const id = r1.json.data.connection.id;
    expect(r1.json.data.connection.status).toBe('pending');
    expect(r1.json.data.connection.credentials.api_key).toEqual({ set: true, title: 'API key' });

    // Sync is refused until the connection is active.
    const early = await admin('POST', `/admin/connections/${id}/sync`);
    expect(early.status).toBe(409);
    expect(early.json.code).toBe('connection_not_active');

    const choices = await admin('GET', `/admin/connections/${id}/choices/subsidiary_id`);
    expect(choices.status).toBe(200);
    expect(choices.json.data).toEqual(r1.json.data.choices.subsidiary_id);
    const dup = await admin('POST', '/admin/connections', { connector: 'rillet', organization_id: testOrg, credentials: { api_key: ril.apiKey }, base_url: ril.url });
    expect(dup.status).toBe(409);
    expect(dup.json.details.connection_id).toBe(id);

    const sub = choices.json.data[0].value;
    const r2 = await admin('PATCH', `/admin/connections/${id}`, { settings: { subsidiary_id: sub } });
    expect(r2.json.data.connection.next_step.step).toBe('webhook_secret');
    const r3 = await admin('PATCH', `/admin/connections/${id}`, { credentials: { signing_token: ril.signingToken } });
    expect(r3.status).toBe(200);
    expect(r3.json.data.connection.status).toBe('active');

    const done = await until(async () => {
      const s = (await admin('GET', `/admin/connections/${id}`)).json.data;
      return s.backfill?.status === 'succeeded' ? s : undefined;
    }, 'the backfill', 15_000, 100);
    const invoices = [...ril.data.invoices.values()].filter((i) => i.subsidiary_id === sub).length;
    expect(done.sync.invoices.counts.active).toBe(invoices);
    expect(done.sync.invoices.last_sync).toMatchObject({ status: 'ok', mode: 'full' });
    expect(done.backfill.streams.invoices).toMatchObject({ status: 'ok', records: invoices });
    // The spec's schedules run for the active connection.
    expect(done.sync.invoices.schedule.cron).toBe('*/15 * * * *');
    expect(Date.parse(done.sync.invoices.schedule.next_run)).toBeGreaterThan(Date.now());
    expect(done.sync.subsidiaries.schedule).toBeUndefined();

    // A new customer in Rillet, then a sync on demand picks it up.
    ril.webhookTargets = [];
    ril.createCustomer({ name: 'Late Customer Inc' });
    const started = await admin('POST', `/admin/connections/${id}/sync`, { streams: ['customers'] });
    expect(started.status).toBe(202);
    expect(started.json.data).toMatchObject({ connection_id: id, streams: ['customers'], full: false });
    await until(async () => {
      const s = (await admin('GET', `/admin/connections/${id}`)).json.data;
      return s.sync.customers.counts.active === ril.data.customers.size ? s : undefined;
    }, 'the new customer synced', 15_000, 100);
    const badStream = await admin('POST', `/admin/connections/${id}/sync`, { streams: ['nope'] });
    expect(badStream.status).toBe(400);
    // Names of Object.prototype are not streams either.
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const r = await admin('POST', `/admin/connections/${id}/sync`, { streams: [name] });
      expect(r.status, name).toBe(400);
      expect(r.json).toMatchObject({ code: 'invalid_input', param: 'streams' });
    }

    const listed = await admin('GET', `/admin/connections?organization_id=${testOrg}&status=active`);
    expect(listed.json.data.map((c: { id: string }) => c.id)).toEqual([id]);

    const del = await admin('DELETE', `/admin/connections/${id}`);
    expect(del.status).toBe(200);
    expect(del.json.data.status).toBe('disconnected');
    expect(del.json.data.webhook_url).toBeUndefined();
    const after = await admin('POST', `/admin/connections/${id}/sync`);
    expect(after.status).toBe(409);
    const patch = await admin('PATCH', `/admin/connections/${id}`, { settings: { subsidiary_id: sub } });
    expect(patch.status).toBe(409);
    // The synced data stays; the schedules are gone.
    const gone = (await admin('GET', `/admin/connections/${id}`)).json.data;
    expect(gone.sync.invoices.counts.active).toBe(invoices);
    expect(gone.sync.invoices.schedule).toBeUndefined();
  }, 60_000);

  it('logs connection work as JSON without secrets', () => {
    const text = logs.join('');
    expect(text).toContain('"msg":"connection made"');
    expect(text).toContain('"msg":"backfill finished"');
    for (const secret of [ril.apiKey, ril.signingToken, seq.clientSecret, TOKEN]) expect(text).not.toContain(secret);
  });
});
