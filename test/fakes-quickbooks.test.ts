/**
 * The fake QuickBooks Online API over real sockets: consent through the fake Intuit OAuth server
 * (realmId on the redirect, rotating refresh tokens, invalid_grant after a revoked consent), tokens
 * scoped to their company, minorversion, the SQL-like query endpoint and its paging, read by id,
 * sparse updates with SyncToken (5010 when stale), tax written as TxnTaxDetail.TotalTax, faults,
 * throttling, and app-level webhooks batching several realms, whose `intuit-signature` is computed
 * here independently of the fake's signing code.
 */
import { createHash, createHmac } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeQuickBooks, type FakeQuickBooks, type QboInvoice } from '../fakes/index.ts';
import { startReceiver } from './helpers/webhook-receiver.ts';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const CALLBACK = 'http://127.0.0.1:9/oauth/callback';

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Json }> {
  const res = await request(url, {
    method: (init.method ?? 'GET') as 'GET',
    headers: { accept: 'application/json', ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

async function form(url: string, fields: Record<string, string>, authorization: string): Promise<{ status: number; body: Json }> {
  const res = await request(url, { method: 'POST', body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization } });
  const text = await res.body.text();
  return { status: res.statusCode, body: text === '' ? undefined : JSON.parse(text) };
}

/** Exact cents of a JSON money number, and back, for the test's own arithmetic. */
const cents = (n: number): bigint => {
  const [i, f = ''] = String(n).split('.');
  const neg = i!.startsWith('-');
  const v = BigInt(i!.replace('-', '') + (f + '00').slice(0, 2));
  return neg ? -v : v;
};

describe('fake QuickBooks Online', () => {
  let qb: FakeQuickBooks;
  let A: string;
  let B: string;
  const basic = (): string => 'Basic ' + Buffer.from(`${qb.clientId}:${qb.clientSecret}`).toString('base64');
  const api = (realm: string, path: string, mv = '75'): string => `${qb.baseUrl(realm)}${path}${path.includes('?') ? '&' : '?'}minorversion=${mv}`;
  const q = (realm: string, sql: string): string => api(realm, `/query?query=${encodeURIComponent(sql)}`);
  const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

  /** Consent as a browser would: authorize URL -> 302 to the callback with code, state, realmId -> token exchange. */
  async function consent(realmId: string): Promise<{ realmId: string; tokens: Json }> {
    const verifier = 'k'.repeat(50);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    qb.chooseCompanyNext(realmId);
    const v = await qb.oauth.visit(qb.oauth.buildAuthorizeUrl({ clientId: qb.clientId, redirectUri: CALLBACK, scope: qb.scope, state: `st-${realmId}`, codeChallenge: challenge }));
    expect(v.status).toBe(302);
    const back = new URL(v.location!).searchParams;
    expect(back.get('state')).toBe(`st-${realmId}`);
    const r = await form(qb.oauth.tokenUrl, { grant_type: 'authorization_code', code: back.get('code')!, redirect_uri: CALLBACK, code_verifier: verifier }, basic());
    expect(r.status).toBe(200);
    return { realmId: back.get('realmId')!, tokens: r.body };
  }

  beforeAll(async () => {
    qb = await startFakeQuickBooks({ seed: 3, counts: { customers: 6, items: 5, invoices: 23, creditMemos: 2 }, redirectUris: [CALLBACK], webhookDelivery: { backoffMs: 10 } });
    [A, B] = qb.realmIds as [string, string];
  });
  afterAll(async () => {
    await qb.close();
  });

  it('puts realmId on the consent redirect and answers Intuit-shaped token responses at Intuit paths', async () => {
    expect(qb.oauth.tokenUrl).toMatch(/\/oauth2\/v1\/tokens\/bearer$/);
    const { realmId, tokens } = await consent(B);
    expect(realmId).toBe(B);
    expect(tokens).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 3600, refresh_token: expect.any(String), x_refresh_token_expires_in: 8726400 });
  });

  it('scopes tokens to their company, 401s expired tokens and works again after a rotating refresh', async () => {
    const a = (await consent(A)).tokens;
    expect((await call(api(A, `/companyinfo/${A}`), { headers: bearer(a.access_token) })).status).toBe(200);

    const other = await call(q(B, 'select * from Invoice'), { headers: bearer(a.access_token) });
    expect(other.status).toBe(403);
    expect(other.body.fault).toMatchObject({ type: 'SERVICE', error: [{ code: '3100', message: expect.stringContaining('errorCode=003100') }] });

    const none = await call(q(A, 'select * from Invoice'));
    expect(none.status).toBe(401);
    expect(none.body.fault.error[0].code).toBe('3200');

    qb.oauth.advanceTime(3601);
    const expired = await call(q(A, 'select * from Invoice'), { headers: bearer(a.access_token) });
    expect(expired.status).toBe(401);
    expect(expired.body.fault).toMatchObject({ type: 'AUTHENTICATION', error: [{ code: '3200', detail: expect.stringContaining('Token expired') }] });
    expect(expired.headers['www-authenticate']).toMatch(/^Bearer/);

    const r = await form(qb.oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: a.refresh_token }, basic());
    expect(r.status).toBe(200);
    expect(r.body.refresh_token).not.toBe(a.refresh_token);
    expect((await form(qb.oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: a.refresh_token }, basic())).body.error).toBe('invalid_grant');
    expect((await call(q(A, 'select * from Invoice'), { headers: bearer(r.body.access_token) })).status).toBe(200);
  });

  it('requires minorversion and says which version it served', async () => {
    const t = qb.connect(A).access_token;
    const missing = await call(`${qb.baseUrl(A)}/invoice/1`, { headers: bearer(t) });
    expect(missing.status).toBe(400);
    expect(missing.body.Fault).toMatchObject({ type: 'ValidationFault', Error: [{ element: 'minorversion', Detail: expect.stringContaining('minorversion=75') }] });
    const old = await call(api(A, '/invoice/1', '65'), { headers: bearer(t) });
    expect(old.status).toBe(200);
    expect(old.headers['x-fake-minorversion']).toBe('75');
    expect(old.body).toEqual({ Invoice: expect.objectContaining({ Id: '1', SyncToken: expect.any(String) }), time: expect.stringMatching(/-08:00$/) });
  });

  it('pages a query with STARTPOSITION / MAXRESULTS through every row once, then an empty QueryResponse', async () => {
    const t = qb.connect(A).access_token;
    const count = await call(q(A, 'SELECT COUNT(*) FROM Invoice'), { headers: bearer(t) });
    const total = count.body.QueryResponse.totalCount as number;
    expect(total).toBe(qb.companies.get(A)!.invoices.size);
    const seen: string[] = [];
    for (let start = 1; ; start += 5) {
      const page = await call(q(A, `select * from Invoice ORDERBY Metadata.LastUpdatedTime STARTPOSITION ${start} MAXRESULTS 5`), { headers: bearer(t) });
      expect(page.status).toBe(200);
      const rows = page.body.QueryResponse.Invoice as QboInvoice[] | undefined;
      if (!rows) {
        expect(page.body).toEqual({ QueryResponse: {}, time: expect.any(String) });
        break;
      }
      expect(page.body.QueryResponse).toMatchObject({ startPosition: start, maxResults: rows.length });
      seen.push(...rows.map((r) => r.Id));
    }
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
  });

  it('filters on Metadata.LastUpdatedTime with > and >= and refuses what it cannot parse', async () => {
    const t = qb.connect(A).access_token;
    const all = [...qb.companies.get(A)!.invoices.values()];
    const latest = all.map((i) => i.MetaData.LastUpdatedTime).sort((x, y) => Date.parse(x) - Date.parse(y)).at(-1)!;
    const changed = qb.updateInvoice(A, all[2]!.Id, { PrivateNote: 'edited in QuickBooks' });
    const gt = await call(q(A, `select * from Invoice where Metadata.LastUpdatedTime > '${latest}' ORDERBY Metadata.LastUpdatedTime`), { headers: bearer(t) });
    expect(gt.body.QueryResponse.Invoice.map((i: QboInvoice) => i.Id)).toEqual([changed.Id]);
    const ge = await call(q(A, `select * from Invoice where Metadata.LastUpdatedTime >= '${changed.MetaData.LastUpdatedTime}'`), { headers: bearer(t) });
    expect(ge.body.QueryResponse.Invoice.map((i: QboInvoice) => i.Id)).toContain(changed.Id);
    const customers = await call(q(A, 'select * from customer MAXRESULTS 1000'), { headers: bearer(t) });
    expect(Object.keys(customers.body.QueryResponse)).toEqual(['Customer', 'startPosition', 'maxResults']);
    const austin = await call(q(A, "select * from TaxCode where Name LIKE 'austin%' and Active = true"), { headers: bearer(t) });
    expect(austin.body.QueryResponse.TaxCode.map((c: Json) => c.Name)).toEqual(['Austin, TX']);

    const parse = await call(q(A, 'select * from Invoice where'), { headers: bearer(t) });
    expect(parse.status).toBe(400);
    expect(parse.body.Fault.Error[0]).toMatchObject({ code: '4000', Message: 'Error parsing query' });
    const prop = await call(q(A, "select * from Invoice where Colour = 'red'"), { headers: bearer(t) });
    expect(prop.body.Fault.Error[0].code).toBe('4001');
  });

  it('reads by id and 400s an unknown id with code 610', async () => {
    const t = qb.connect(A).access_token;
    const inv = await call(api(A, '/invoice/2'), { headers: bearer(t) });
    expect(inv.body.Invoice).toEqual(qb.get(A, 'Invoice', '2'));
    const gone = await call(api(A, '/invoice/99999'), { headers: bearer(t) });
    expect(gone.status).toBe(400);
    expect(gone.body.Fault).toMatchObject({ type: 'ValidationFault', Error: [{ code: '610', Message: 'Object Not Found' }] });
  });

  it('writes tax as a sparse update with the fresh SyncToken and answers 5010 to a stale one', async () => {
    const t = qb.connect(A).access_token;
    const before = (await call(api(A, '/invoice/3'), { headers: bearer(t) })).body.Invoice as QboInvoice;
    const subtotal = before.Line.filter((l) => l.DetailType === 'SalesItemLineDetail').reduce((s, l) => s + cents(l.Amount), 0n);

    const res = await call(api(A, '/invoice'), { method: 'POST', headers: bearer(t), body: { Id: before.Id, SyncToken: before.SyncToken, sparse: true, TxnTaxDetail: { TotalTax: 12.34 } } });
    expect(res.status).toBe(200);
    const after = res.body.Invoice as QboInvoice;
    expect(after.SyncToken).toBe(String(Number(before.SyncToken) + 1));
    expect(after.Line).toEqual(before.Line);
    expect(after.TxnTaxDetail.TotalTax).toBe(12.34);
    expect(after.TxnTaxDetail.TaxLine.reduce((s, l) => s + cents(l.Amount), 0n)).toBe(1234n);
    expect(cents(after.TotalAmt)).toBe(subtotal + 1234n);

    const stale = await call(api(A, '/invoice'), { method: 'POST', headers: bearer(t), body: { Id: before.Id, SyncToken: before.SyncToken, sparse: true, TxnTaxDetail: { TotalTax: 1 } } });
    expect(stale.status).toBe(400);
    expect(stale.body.Fault).toMatchObject({ type: 'ValidationFault', Error: [{ code: '5010', Message: 'Stale Object Error' }] });
    expect(qb.get(A, 'Invoice', before.Id)!.TxnTaxDetail.TotalTax).toBe(12.34);

    const bad = await call(api(A, '/invoice'), { method: 'POST', headers: bearer(t), body: { Id: before.Id, SyncToken: after.SyncToken, sparse: true, TxnTaxDetail: { TotalTax: 1.005 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.Fault.Error[0]).toMatchObject({ code: '2010', element: 'TxnTaxDetail.TotalTax' });
    expect(qb.get(A, 'Invoice', before.Id)!.SyncToken).toBe(after.SyncToken);
  });

  it('creates through the API, refuses duplicate names and unknown references, and clears omitted fields on a full update', async () => {
    const t = qb.connect(B).access_token;
    const cust = await call(api(B, '/customer'), { method: 'POST', headers: bearer(t), body: { DisplayName: 'Harbor Works Inc.', BillAddr: { Line1: '1 Main St', City: 'Austin', CountrySubDivisionCode: 'TX', PostalCode: '78701' } } });
    expect(cust.status).toBe(200);
    expect(cust.body.Customer).toMatchObject({ SyncToken: '0', DisplayName: 'Harbor Works Inc.', Active: true });
    const dup = await call(api(B, '/customer'), { method: 'POST', headers: bearer(t), body: { DisplayName: 'harbor works inc.' } });
    expect(dup.body.Fault.Error[0].code).toBe('6240');
    const badItem = await call(api(B, '/invoice'), { method: 'POST', headers: bearer(t), body: { CustomerRef: { value: cust.body.Customer.Id }, Line: [{ DetailType: 'SalesItemLineDetail', Amount: 5, SalesItemLineDetail: { ItemRef: { value: '999' } } }] } });
    expect(badItem.body.Fault.Error[0]).toMatchObject({ code: '2500', element: 'Line[0].SalesItemLineDetail.ItemRef' });

    const item = [...qb.companies.get(B)!.items.values()][0]!;
    const created = await call(api(B, '/invoice'), { method: 'POST', headers: bearer(t), body: { CustomerRef: { value: cust.body.Customer.Id }, PrivateNote: 'note', Line: [{ DetailType: 'SalesItemLineDetail', Amount: 20, SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 4, UnitPrice: 5 } }] } });
    expect(created.status).toBe(200);
    const inv = created.body.Invoice as QboInvoice;
    expect(inv).toMatchObject({ SyncToken: '0', TotalAmt: 20, Balance: 20, PrivateNote: 'note', BillAddr: expect.objectContaining({ City: 'Austin' }) });
    const noLines = await call(api(B, '/invoice'), { method: 'POST', headers: bearer(t), body: { Id: inv.Id, SyncToken: '0', CustomerRef: inv.CustomerRef } });
    expect(noLines.body.Fault.Error[0]).toMatchObject({ code: '2020', element: 'Line' });
    const full = await call(api(B, '/invoice'), { method: 'POST', headers: bearer(t), body: { Id: inv.Id, SyncToken: '0', CustomerRef: inv.CustomerRef, Line: inv.Line } });
    expect(full.status).toBe(200);
    expect(full.body.Invoice.PrivateNote).toBeUndefined();
    expect(full.body.Invoice.SyncToken).toBe('1');
    const del = await call(api(B, '/invoice?operation=delete'), { method: 'POST', headers: bearer(t), body: { Id: inv.Id, SyncToken: '1' } });
    expect(del.body.Invoice).toEqual({ domain: 'QBO', status: 'Deleted', Id: inv.Id });
    const after = await call(q(B, `select * from Invoice where Id = '${inv.Id}'`), { headers: bearer(t) });
    expect(after.body.QueryResponse).toEqual({});
  });

  it('answers change data capture since a time with changed rows and deletion markers, at most 30 days back', async () => {
    const t = qb.connect(A).access_token;
    const since = new Date(Date.now() - 60_000).toISOString();
    const edited = qb.updateInvoice(A, '7', { PrivateNote: 'cdc' });
    qb.deleteInvoice(A, '8');
    const r = await call(api(A, `/cdc?entities=Invoice,Item&changedSince=${encodeURIComponent(since)}`), { headers: bearer(t) });
    expect(r.status).toBe(200);
    const [inv, items] = r.body.CDCResponse[0].QueryResponse;
    expect(inv.Invoice).toEqual(expect.arrayContaining([
      expect.objectContaining({ Id: edited.Id, SyncToken: edited.SyncToken }),
      { domain: 'QBO', status: 'Deleted', Id: '8', MetaData: { LastUpdatedTime: expect.stringMatching(/-08:00$/) } },
    ]));
    expect(items).toEqual({});
    const old = await call(api(A, `/cdc?entities=Invoice&changedSince=${encodeURIComponent(new Date(Date.now() - 31 * 86_400_000).toISOString())}`), { headers: bearer(t) });
    expect(old.status).toBe(400);
    expect(old.body.Fault.Error[0].element).toBe('changedSince');
  });

  it('redirects a denied consent back with access_denied and the state', async () => {
    qb.denyNextConsent();
    const v = await qb.oauth.visit(qb.oauth.buildAuthorizeUrl({ clientId: qb.clientId, redirectUri: CALLBACK, scope: qb.scope, state: 'deny-me' }));
    const back = new URL(v.location!).searchParams;
    expect(Object.fromEntries(back)).toEqual({ error: 'access_denied', error_description: expect.any(String), state: 'deny-me' });
  });

  it('throttles per company with 429 and code 3001', async () => {
    const ta = qb.connect(A).access_token;
    const tb = qb.connect(B).access_token;
    qb.setRealmRateLimit({ requests: 2, perSeconds: 60 });
    try {
      expect((await call(api(A, '/invoice/1'), { headers: bearer(ta) })).status).toBe(200);
      expect((await call(api(A, '/invoice/1'), { headers: bearer(ta) })).status).toBe(200);
      const third = await call(api(A, '/invoice/1'), { headers: bearer(ta) });
      expect(third.status).toBe(429);
      expect(third.body.Fault).toMatchObject({ type: 'SERVICE', Error: [{ code: '3001' }] });
      expect((await call(api(B, '/invoice/1'), { headers: bearer(tb) })).status).toBe(200);
    } finally {
      qb.setRealmRateLimit(undefined);
    }
  });

  it('sends one signed delivery batching several entities of several companies to the app endpoint', async () => {
    const rx = await startReceiver('/qbo/webhooks');
    try {
      qb.setWebhook({ url: rx.url, verifierToken: 'verifier-123', hold: true });
      qb.updateInvoice(A, '4', { PrivateNote: 'x' });
      qb.updateInvoice(A, '5', { PrivateNote: 'y' });
      const created = qb.createInvoice(A);
      qb.updateInvoice(B, '4', { PrivateNote: 'other company, same id' });
      expect(qb.pendingWebhookEntities()).toBe(4);
      qb.flushWebhooks();
      await rx.waitFor(1);
      await qb.deliveriesIdle();
      expect(rx.got).toHaveLength(1);
      const { headers, body } = rx.got[0]!;
      expect(headers['intuit-signature']).toBe(createHmac('sha256', 'verifier-123').update(body).digest('base64'));
      const parsed = JSON.parse(body);
      expect(parsed.eventNotifications.map((n: Json) => n.realmId)).toEqual([A, B]);
      expect(parsed.eventNotifications[0].dataChangeEvent.entities.map((e: Json) => [e.name, e.id, e.operation])).toEqual([
        ['Invoice', '4', 'Update'], ['Invoice', '5', 'Update'], ['Invoice', created.Id, 'Create'],
      ]);
      expect(parsed.eventNotifications[1].dataChangeEvent.entities).toEqual([{ name: 'Invoice', id: '4', operation: 'Update', lastUpdated: expect.stringMatching(/Z$/) }]);

      // writes through the API send webhooks too (as at Intuit): here in the CloudEvents format, flushed after the tick
      qb.setWebhook({ hold: false, format: 'cloudevents' });
      const t = qb.connect(B).access_token;
      const inv = qb.get(B, 'Invoice', '6')!;
      expect((await call(api(B, '/invoice'), { method: 'POST', headers: bearer(t), body: { Id: '6', SyncToken: inv.SyncToken, sparse: true, TxnTaxDetail: { TotalTax: 0.5 } } })).status).toBe(200);
      await rx.waitFor(2);
      const ce = JSON.parse(rx.got[1]!.body);
      expect(ce).toEqual([expect.objectContaining({ specversion: '1.0', type: 'qbo.invoice.updated.v1', intuitentityid: '6', intuitaccountid: B })]);
      expect(rx.got[1]!.headers['intuit-signature']).toBe(createHmac('sha256', 'verifier-123').update(rx.got[1]!.body).digest('base64'));

      const tampered = await qb.sendWebhook(rx.url, [{ realmId: '1111111111', entities: [{ name: 'Invoice', id: '1', operation: 'Delete' }] }], { tamper: true, format: 'legacy' });
      expect(tampered.sent.headers['intuit-signature']).not.toBe(createHmac('sha256', 'verifier-123').update(tampered.sent.body).digest('base64'));
    } finally {
      qb.setWebhook({ url: undefined, format: 'legacy' });
      await rx.close();
    }
  });

  it('revoked consent: the next refresh gets invalid_grant, and the revocation endpoint takes Intuit JSON', async () => {
    const { tokens } = await consent(A);
    expect(qb.revokeConsent(A)).toBeGreaterThan(0);
    const r = await form(qb.oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, basic());
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_grant');
    expect((await call(api(A, '/invoice/1'), { headers: bearer(tokens.access_token) })).status).toBe(401);

    const again = (await consent(A)).tokens;
    const rev = await call(qb.oauth.revokeUrl, { method: 'POST', headers: { authorization: basic() }, body: { token: again.access_token } });
    expect(rev.status).toBe(200);
    expect((await form(qb.oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: again.refresh_token }, basic())).body.error).toBe('invalid_grant');
  });
});
