/**
 * The fake Sequence and Rillet servers, over real sockets with undici: auth, pagination, filters,
 * tax write-back arithmetic, idempotency, rate limits, fault injection and webhook signatures
 * (checked with an HMAC computed here, independently of the fakes' signing code).
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, startFakeSequence, type FakeRillet, type FakeSequence, type RilletInvoice } from '../fakes/index.ts';
import { startReceiver, type Received } from './helpers/webhook-receiver.ts';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Json; text: string }> {
  const res = await request(url, {
    method: (init.method ?? 'GET') as 'GET',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  const text = await res.body.text();
  let body: Json;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.statusCode, headers: res.headers, body, text };
}

/** Exact decimal helpers for the test's own arithmetic (independent of fakes/money.ts). */
const cents = (s: string): bigint => {
  const neg = s.startsWith('-');
  const [i, f = ''] = (neg ? s.slice(1) : s).split('.');
  const v = BigInt(i! + (f + '00').slice(0, 2));
  return neg ? -v : v;
};
const fmt = (c: bigint): string => {
  const neg = c < 0n;
  const a = neg ? -c : c;
  return `${neg ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
};
/** round half-up of cents × rate (rate a decimal fraction string). */
const taxOf = (netCents: bigint, rate: string): bigint => {
  const [i, f = ''] = rate.split('.');
  const units = BigInt(i! + f);
  const den = 10n ** BigInt(f.length);
  return (netCents * units * 2n + den) / (den * 2n);
};

// ------------------------------------------------------------------------------------------------

describe('fake Sequence', () => {
  let seq: FakeSequence;
  let auth: Record<string, string>;

  beforeAll(async () => {
    seq = await startFakeSequence({ seed: 7, counts: { customers: 53, products: 9, invoices: 77, creditNotes: 6 }, webhookDelivery: { backoffMs: 10 } });
    auth = { authorization: seq.authorization, 'Sequence-Version': '2024-07-30' };
  });
  afterAll(async () => {
    await seq.close();
  });

  it('rejects missing and wrong Basic credentials with the documented body', async () => {
    const none = await call(`${seq.url}/customers`);
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: { type: 'unauthorized', message: expect.any(String) } });
    const wrong = await call(`${seq.url}/customers`, { headers: { authorization: 'Basic ' + Buffer.from('seq_client:nope').toString('base64') } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.type).toBe('unauthorized');
    const ok = await call(`${seq.url}/customers?limit=1`, { headers: { authorization: 'Basic ' + Buffer.from('seq_client:seq_secret').toString('base64') } });
    expect(ok.status).toBe(200);
    expect(ok.headers['sequence-version']).toBe('2024-07-30');
  });

  it('rejects an unknown Sequence-Version', async () => {
    const r = await call(`${seq.url}/customers`, { headers: { ...auth, 'Sequence-Version': '2019-01-01' } });
    expect(r.status).toBe(400);
    expect(r.body.error.type).toBe('UnrecognisedApiVersion');
  });

  it('walks every customer exactly once, newest first by default, and ends without `after`', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const r = await call(`${seq.url}/customers?limit=7${after ? `&after=${encodeURIComponent(after)}` : ''}`, { headers: auth });
      expect(r.status).toBe(200);
      expect(r.body.pagination.totalResultSize).toBe(53);
      seen.push(...r.body.items.map((c: Json) => c.id));
      pages++;
      after = r.body.pagination.after;
      if (!after) break;
      expect(Buffer.from(after, 'base64').toString()).toBe(r.body.items.at(-1).id);
    }
    expect(pages).toBe(8);
    expect(new Set(seen).size).toBe(53);
    expect(seen).toEqual([...seq.data.customers.keys()].sort().reverse());
  });

  it('walks ASC, pages back with `before`, and filters invoices by status', async () => {
    const first = await call(`${seq.url}/invoices?limit=10&sortOrder=ASC`, { headers: auth });
    const second = await call(`${seq.url}/invoices?limit=10&sortOrder=ASC&after=${encodeURIComponent(first.body.pagination.after)}`, { headers: auth });
    expect(second.body.pagination.before).toBeDefined();
    const back = await call(`${seq.url}/invoices?limit=10&sortOrder=ASC&before=${encodeURIComponent(second.body.pagination.before)}`, { headers: auth });
    expect(back.body.items.map((i: Json) => i.id)).toEqual(first.body.items.map((i: Json) => i.id));
    expect(first.body.pagination.before).toBeUndefined();

    const drafts = [...seq.data.invoices.values()].filter((i) => i.status === 'DRAFT').map((i) => i.id);
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const r = await call(`${seq.url}/invoices?invoiceStatus=DRAFT&limit=9${after ? `&after=${encodeURIComponent(after)}` : ''}`, { headers: auth });
      expect(r.body.pagination.totalResultSize).toBe(drafts.length);
      for (const i of r.body.items) expect(i.status).toBe('DRAFT');
      seen.push(...r.body.items.map((i: Json) => i.id));
      after = r.body.pagination.after;
    } while (after);
    expect(seen.sort()).toEqual(drafts.sort());
  });

  it('validates limit as documented', async () => {
    for (const limit of ['0', '101', 'abc']) {
      const r = await call(`${seq.url}/products?limit=${limit}`, { headers: auth });
      expect(r.status).toBe(400);
      expect(r.body.error.type).toBe('validationError');
      expect(r.body.error.errors[0]).toMatchObject({ key: 'limit', code: expect.any(String), message: expect.any(String) });
    }
    const nf = await call(`${seq.url}/invoices/00000000-0000-7000-8000-000000000000`, { headers: auth });
    expect(nf.status).toBe(404);
    expect(nf.body.error.type).toBe('notFound');
  });

  it('lists line items (envelope and /all) and recomputes totals exactly on PUT taxRate', async () => {
    const inv = [...seq.data.invoices.values()].find((i) => i.status === 'DRAFT' && (seq.data.lineItems.get(i.id)?.length ?? 0) >= 2)!;
    const list = await call(`${seq.url}/invoices/${inv.id}/line-items`, { headers: auth });
    expect(list.status).toBe(200);
    expect(list.body.pagination.after).toBeUndefined();
    const all = await call(`${seq.url}/invoices/${inv.id}/line-items/all`, { headers: auth });
    expect(all.body).toEqual({ items: list.body.items });

    const rates = ['0.0825', '0.19'];
    const lines: Json[] = all.body.items;
    for (const [k, line] of lines.entries()) {
      const rate = rates[k % 2]!;
      const r = await call(`${seq.url}/invoices/${inv.id}/line-items/${line.id}`, { method: 'PUT', headers: auth, body: { taxRate: rate } });
      expect(r.status).toBe(200);
      const tax = taxOf(cents(line.netTotal), rate);
      expect(r.body).toMatchObject({ taxRate: rate, netTotal: line.netTotal, totalTax: fmt(tax), grossTotal: fmt(cents(line.netTotal) + tax) });
    }
    const after = await call(`${seq.url}/invoices/${inv.id}`, { headers: auth });
    const net = lines.reduce((s, l) => s + cents(l.netTotal), 0n);
    const tax = lines.reduce((s, l, k) => s + taxOf(cents(l.netTotal), rates[k % 2]!), 0n);
    expect(after.body.netTotal).toBe(fmt(net));
    expect(after.body.totalTax).toBe(fmt(tax));
    expect(after.body.grossTotal).toBe(fmt(net + tax));
    expect(after.body.updatedAt > inv.createdAt).toBe(true);

    const bad = await call(`${seq.url}/invoices/${inv.id}/line-items/${lines[0].id}`, { method: 'PUT', headers: auth, body: { taxRate: 0.08 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.errors[0].key).toBe('taxRate');

    const sent = [...seq.data.invoices.values()].find((i) => i.status !== 'DRAFT' && (seq.data.lineItems.get(i.id)?.length ?? 0) > 0)!;
    const lineId = seq.data.lineItems.get(sent.id)![0]!.id;
    const locked = await call(`${seq.url}/invoices/${sent.id}/line-items/${lineId}`, { method: 'PUT', headers: auth, body: { taxRate: '0.1' } });
    expect(locked.status).toBe(400);
    expect(locked.body.error.type).toBe('validationError');
  });

  it('credit notes: list, line items and the DRAFT-only rule', async () => {
    const list = await call(`${seq.url}/credit-notes?limit=100`, { headers: auth });
    expect(list.body.items).toHaveLength(6);
    for (const cn of list.body.items) expect(seq.data.invoices.get(cn.invoiceId)!.creditNoteIds).toContain(cn.id);
    const cn = seq.createCreditNote({ invoiceId: [...seq.data.invoices.keys()][0], lines: [{ title: 'refund', quantity: '2', rate: '12.34' }] });
    const lines = await call(`${seq.url}/credit-notes/${cn.id}/line-items/all`, { headers: auth });
    expect(lines.body.items).toHaveLength(1);
    expect(lines.body.items[0]).toMatchObject({ creditNoteId: cn.id, netTotal: '24.68' });
    const put = await call(`${seq.url}/credit-notes/${cn.id}/line-items/${lines.body.items[0].id}`, { method: 'PUT', headers: auth, body: { taxRate: '0.2' } });
    expect(put.body).toMatchObject({ totalTax: '4.94', grossTotal: '29.62' });
    expect(seq.data.creditNotes.get(cn.id)!.grossTotal).toBe('29.62');
    seq.updateCreditNote(cn.id, { status: 'FINAL' });
    const locked = await call(`${seq.url}/credit-notes/${cn.id}/line-items/${lines.body.items[0].id}`, { method: 'PUT', headers: auth, body: { taxRate: '0.1' } });
    expect(locked.status).toBe(400);
  });

  it('rounds half-up to the minor unit', async () => {
    const inv = seq.createInvoice({ customerId: [...seq.data.customers.keys()][0], lines: [{ title: 'x', quantity: '1', rate: '10.10' }] });
    const line = seq.lineItemsOf(inv.id)[0]!;
    // 10.10 × 0.05 = 0.505 -> 0.51
    const r = await call(`${seq.url}/invoices/${inv.id}/line-items/${line.id}`, { method: 'PUT', headers: auth, body: { taxRate: '0.05' } });
    expect(r.body.totalTax).toBe('0.51');
    expect(seq.data.invoices.get(inv.id)!.grossTotal).toBe('10.61');
  });

  it('registers a policy and delivers signed webhooks (with a retry) on helper mutations', async () => {
    const rx = await startReceiver();
    try {
      const created = await call(`${seq.url}/notifications/policies`, {
        method: 'POST', headers: auth,
        body: { name: 'tb', notificationTypes: ['INVOICE_CREATED', 'CUSTOMER_UPDATED'], recipients: [rx.url], channel: 'WEBHOOK', webhookSecret: 'whsec_test_secret' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: expect.any(String), webhookSecret: 'whsec_test_secret', recipients: [rx.url] });
      const listed = await call(`${seq.url}/notifications/policies`, { headers: auth });
      expect(listed.body.items.map((p: Json) => p.id)).toContain(created.body.id);

      rx.statuses.push(500); // first attempt fails, the retry succeeds
      const inv = seq.createInvoice();
      await seq.deliveriesIdle();
      expect(rx.got).toHaveLength(2);
      const d = rx.got[1]!;
      const m = /^t=(\d+),s=([0-9a-f]{64})$/.exec(String(d.headers['sequence-signature']))!;
      expect(m).not.toBeNull();
      const expected = createHmac('sha256', 'whsec_test_secret').update(`${m[1]}.${d.body}`).digest('hex');
      expect(m[2]).toBe(expected);
      expect(JSON.parse(d.body)).toMatchObject({ notificationType: 'INVOICE_CREATED', sequenceAccountId: seq.accountId, resourceType: 'INVOICE', resourceId: inv.id, resource: { id: inv.id } });
      expect(seq.deliveries.filter((x) => x.resourceId === inv.id).map((x) => [x.attempt, x.status])).toEqual([[1, 500], [2, 200]]);

      // manual send: explicit timestamp, and a tampered body that no longer matches
      const manual = await seq.sendWebhook(rx.url, { type: 'INVOICE_CREATED', resourceId: inv.id }, { timestamp: 1700000000000 });
      expect(manual.status).toBe(200);
      const h = String(manual.sent.headers['Sequence-Signature']);
      expect(h).toBe(`t=1700000000000,s=${createHmac('sha256', 'whsec_test_secret').update(`1700000000000.${manual.sent.body}`).digest('hex')}`);
      const tampered = await seq.sendWebhook(rx.url, { type: 'INVOICE_CREATED', resourceId: inv.id }, { tamper: true, timestamp: 1700000000000 });
      expect(tampered.sent.body).not.toBe(manual.sent.body);
      expect(createHmac('sha256', 'whsec_test_secret').update(`1700000000000.${tampered.sent.body}`).digest('hex')).not.toBe(h.split(',s=')[1]);
    } finally {
      await rx.close();
    }
  });

  it('generates the same data for the same seed', async () => {
    const a = await startFakeSequence({ seed: 42, counts: { customers: 5, products: 3, invoices: 5, creditNotes: 1 } });
    const b = await startFakeSequence({ seed: 42, counts: { customers: 5, products: 3, invoices: 5, creditNotes: 1 } });
    try {
      const ia = [...a.data.invoices.values()];
      expect(ia.map((i) => i.id)).toEqual([...b.data.invoices.keys()]);
      expect(ia.map((i) => a.lineItemsOf(i.id))).toEqual([...b.data.invoices.keys()].map((id) => b.lineItemsOf(id)));
      expect([...a.data.customers.values()][0]!.address).toMatchObject({ town: 'Austin', state: 'TX', postcode: '78701', country: 'US' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe('fake Rillet', () => {
  let ril: FakeRillet;
  let auth: Record<string, string>;

  beforeAll(async () => {
    ril = await startFakeRillet({ seed: 11, counts: { customers: 61, products: 8, invoices: 90, creditNotes: 7 }, webhookDelivery: { backoffMs: 10 } });
    auth = { authorization: ril.authorization, 'X-Rillet-API-Version': '4' };
  });
  afterAll(async () => {
    await ril.close();
  });

  it('answers 401 with an RFC 9457 body; /health needs no auth; /api-key checks the key', async () => {
    const none = await call(`${ril.url}/customers`);
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ type: 'https://rillet.io/unauthorized', title: 'Unauthorized', status: 401, detail: expect.any(String) });
    expect(String(none.headers['content-type'])).toContain('application/problem+json');
    const wrong = await call(`${ril.url}/api-key`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect((await call(`${ril.url}/api-key`, { headers: { authorization: 'Bearer rillet_key' } })).status).toBe(200);
    expect((await call(`${ril.url}/health`)).status).toBe(200);
  });

  it('walks every customer exactly once; no next_cursor at the end; bad cursor restarts', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let last: Json;
    do {
      const r = await call(`${ril.url}/customers?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: auth });
      expect(r.status).toBe(200);
      seen.push(...r.body.customers.map((c: Json) => c.id));
      cursor = r.body.pagination.next_cursor;
      last = r.body;
    } while (cursor);
    expect(last.pagination).toEqual({});
    expect(seen).toHaveLength(61);
    expect(new Set(seen).size).toBe(61);
    expect(seen).toEqual([...ril.data.customers.keys()]);

    const first = await call(`${ril.url}/customers?limit=5`, { headers: auth });
    const bogus = await call(`${ril.url}/customers?limit=5&cursor=not-a-cursor`, { headers: auth });
    expect(bogus.status).toBe(200);
    expect(bogus.body.customers).toEqual(first.body.customers);

    const big = await call(`${ril.url}/customers?limit=101`, { headers: auth });
    expect(big.status).toBe(400);
    expect(big.body).toMatchObject({ type: 'https://rillet.io/bad-request', status: 400, detail: expect.stringContaining('limit') });
    const dflt = await call(`${ril.url}/invoices`, { headers: auth });
    expect(dflt.body.invoices).toHaveLength(25);
  });

  it('filters by updated.gt (strictly greater) across pages', async () => {
    const sorted = [...ril.data.invoices.values()].map((i) => i.updated_at).sort();
    const pivot = sorted[Math.floor(sorted.length / 2)]!;
    const expected = [...ril.data.invoices.values()].filter((i) => i.updated_at > pivot).map((i) => i.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const r = await call(`${ril.url}/invoices?limit=10&updated.gt=${encodeURIComponent(pivot)}${cursor ? `&cursor=${cursor}` : ''}`, { headers: auth });
      for (const inv of r.body.invoices) expect(inv.updated_at > pivot).toBe(true);
      seen.push(...r.body.invoices.map((i: Json) => i.id));
      cursor = r.body.pagination.next_cursor;
    } while (cursor);
    expect(seen.sort()).toEqual(expected.sort());
    expect(seen).not.toContain([...ril.data.invoices.values()].find((i) => i.updated_at === pivot)!.id);

    const cust = await call(`${ril.url}/customers?limit=100&updated.gt=2100-01-01T00:00:00Z`, { headers: auth });
    expect(cust.body.customers).toEqual([]);
    const bad = await call(`${ril.url}/credit-memos?updated.gt=yesterday`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain('updated.gt');
  });

  it('POST /invoices/{id}/taxes sets item and invoice totals exactly and is idempotent by key', async () => {
    const inv = [...ril.data.invoices.values()].find((i) => i.status === 'UNPAID' && i.items.length >= 2 && i.currency === 'USD')!;
    const items = inv.items.map((it) => ({ id: it.id, net: cents(it.total_amount.amount) }));
    const body = {
      taxes_calculated_at: '2026-11-01T00:00:00Z',
      items: items.map((it) => {
        const state = taxOf(it.net, '0.0625');
        const local = taxOf(it.net, '0.02');
        return {
          id: it.id,
          tax_rates: [
            { percentage: '6.25', type: 'SALES_TAX', country: 'US', description: 'TX State Tax', tax_amount: { amount: fmt(state), currency: 'USD' } },
            { percentage: '2', type: 'SALES_TAX', country: 'US', description: 'Austin City Tax', tax_amount: { amount: fmt(local), currency: 'USD' } },
          ],
        };
      }),
    };
    const totalTax = items.reduce((s, it) => s + taxOf(it.net, '0.0625') + taxOf(it.net, '0.02'), 0n);
    const net = cents(inv.net_amount.amount);
    const paid = cents(inv.total.amount) - cents(inv.amount_due.amount);
    const headers = { ...auth, 'Idempotency-Key': 'tax-1' };
    const r1 = await call(`${ril.url}/invoices/${inv.id}/taxes`, { method: 'POST', headers, body });
    expect(r1.status).toBe(200);
    expect(r1.body.taxed_amount).toEqual({ amount: fmt(totalTax), currency: 'USD' });
    expect(r1.body.total).toEqual({ amount: fmt(net + totalTax), currency: 'USD' });
    expect(r1.body.amount_due).toEqual({ amount: fmt(net + totalTax - paid), currency: 'USD' });
    expect(r1.body.items[0].tax_rates).toHaveLength(2);
    expect(r1.body.items[0].taxed_amount.amount).toBe(fmt(taxOf(items[0]!.net, '0.0625') + taxOf(items[0]!.net, '0.02')));
    expect(r1.body.taxes_calculated_at).toBe('2026-11-01T00:00:00Z');

    const updated = ril.data.invoices.get(inv.id)!.updated_at;
    const r2 = await call(`${ril.url}/invoices/${inv.id}/taxes`, { method: 'POST', headers, body });
    expect(r2.status).toBe(200);
    expect(r2.headers['idempotent-replayed']).toBe('true');
    expect(r2.text).toBe(r1.text);
    expect(ril.data.invoices.get(inv.id)!.updated_at).toBe(updated);

    const reused = await call(`${ril.url}/invoices/${inv.id}/taxes`, { method: 'POST', headers, body: { ...body, taxes_calculated_at: '2026-11-02T00:00:00Z' } });
    expect(reused.status).toBe(422);

    const unknown = await call(`${ril.url}/invoices/${inv.id}/taxes`, { method: 'POST', headers: auth, body: { ...body, items: [{ id: 'item_nope', tax_rates: [] }] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toContain('items[0].id');
    const notDecimal = structuredClone(body);
    notDecimal.items[1]!.tax_rates[0]!.tax_amount.amount = '1,50';
    const nd = await call(`${ril.url}/invoices/${inv.id}/taxes`, { method: 'POST', headers: auth, body: notDecimal });
    expect(nd.status).toBe(400);
    expect(nd.body.errors[0].field).toBe('items[1].tax_rates[0].tax_amount.amount');
    // a rejected request changed nothing
    expect(ril.data.invoices.get(inv.id)!.taxed_amount.amount).toBe(fmt(totalTax));

    // credit memos take the same body
    const cm = [...ril.data.creditMemos.values()][0]!;
    const cmItem = cm.items[0]!;
    const cmTax = taxOf(cents(cmItem.total_amount.amount), '0.2');
    const rc = await call(`${ril.url}/credit-memos/${cm.id}/taxes`, {
      method: 'POST', headers: auth,
      body: { taxes_calculated_at: '2026-11-01T00:00:00Z', items: [{ id: cmItem.id, tax_rates: [{ percentage: '20', type: 'VAT', country: 'GB', tax_amount: { amount: fmt(cmTax), currency: cm.currency } }] }] },
    });
    expect(rc.status).toBe(200);
    const otherTax = cm.items.slice(1).reduce((s, it) => s + cents(it.taxed_amount.amount), 0n);
    expect(rc.body.taxed_amount.amount).toBe(fmt(cmTax + otherTax));
    expect(rc.body.total.amount).toBe(fmt(cents(cm.net_amount.amount) + cmTax + otherTax));
  });

  it('read-only keys get 403 on writes', async () => {
    ril.setReadOnly(true);
    try {
      const inv = [...ril.data.invoices.values()][0] as RilletInvoice;
      const r = await call(`${ril.url}/invoices/${inv.id}/taxes`, { method: 'POST', headers: auth, body: { taxes_calculated_at: '2026-11-01T00:00:00Z', items: [] } });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ type: 'https://rillet.io/forbidden', title: 'Forbidden', status: 403 });
      expect((await call(`${ril.url}/invoices/${inv.id}`, { headers: auth })).status).toBe(200);
    } finally {
      ril.setReadOnly(false);
    }
  });

  it('rate limits with 429 and Retry-After', async () => {
    ril.setRateLimit({ requests: 3, perSeconds: 60 });
    try {
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 5; i++) {
        const r = await call(`${ril.url}/subsidiaries`, { headers: auth });
        statuses.push(r.status);
        if (r.status === 429) {
          retryAfter = String(r.headers['retry-after']);
          expect(r.body).toMatchObject({ type: 'https://rillet.io/too-many-requests', status: 429 });
        }
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    } finally {
      ril.setRateLimit(undefined);
    }
    expect((await call(`${ril.url}/subsidiaries`, { headers: auth })).status).toBe(200);
  });

  it('failNext / slowNext / dropNext', async () => {
    ril.faults.failNext(2, 503, { retryAfter: 2 });
    const a = await call(`${ril.url}/tax-rates`, { headers: auth });
    const b = await call(`${ril.url}/tax-rates`, { headers: auth });
    const c = await call(`${ril.url}/tax-rates`, { headers: auth });
    expect([a.status, b.status, c.status]).toEqual([503, 503, 200]);
    expect(a.headers['retry-after']).toBe('2');
    expect(a.body).toMatchObject({ type: 'https://rillet.io/service-unavailable', status: 503 });

    ril.faults.dropNext(1);
    await expect(call(`${ril.url}/tax-rates`, { headers: auth })).rejects.toThrow();
    ril.faults.dropNext(1, { midBody: true });
    await expect(call(`${ril.url}/tax-rates`, { headers: auth })).rejects.toThrow();
    expect((await call(`${ril.url}/tax-rates`, { headers: auth })).status).toBe(200);

    ril.faults.slowNext(1, 150);
    const t0 = Date.now();
    await call(`${ril.url}/tax-rates`, { headers: auth });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);

    ril.requests.clear();
    await call(`${ril.url}/tax-rates?x=1`, { headers: auth });
    expect(ril.requests).toHaveLength(1);
    expect(ril.requests[0]).toMatchObject({ method: 'GET', path: '/tax-rates', query: { x: '1' }, status: 200 });
  });

  it('signs webhooks verifiably (incl. rotation and deleted events) and auto-delivers to targets', async () => {
    const rx = await startReceiver();
    const verify = (token: string, h: http.IncomingHttpHeaders | Record<string, string>, body: string): string =>
      createHmac('sha256', Buffer.from(token, 'base64'))
        .update(`${h['x-rillet-timestamp'] ?? h['X-Rillet-Timestamp']}.${h['x-rillet-id'] ?? h['X-Rillet-Id']}.${h['x-rillet-entity'] ?? h['X-Rillet-Entity']}.${h['x-rillet-event'] ?? h['X-Rillet-Event']}.${body}`)
        .digest('base64');
    try {
      expect(Buffer.from(ril.signingToken, 'base64').length).toBe(32);
      ril.webhookTargets = [{ url: rx.url, entities: ['INVOICE'] }];
      const inv = ril.createInvoice({ customer_id: [...ril.data.customers.keys()][0] });
      ril.createCustomer(); // not subscribed
      ril.deleteInvoice(inv.id);
      await ril.deliveriesIdle();
      expect(rx.got).toHaveLength(2);
      const [created, deleted] = rx.got as [Received, Received];
      expect(created.headers['x-rillet-entity']).toBe('INVOICE');
      expect(created.headers['x-rillet-event']).toBe('CREATED');
      expect(String(created.headers['x-rillet-signature'])).toBe(verify(ril.signingToken, created.headers, created.body));
      expect(JSON.parse(created.body)).toMatchObject({ id: inv.id, items: expect.any(Array), total: { currency: inv.currency } });
      expect(deleted.headers['x-rillet-event']).toBe('DELETED');
      expect(JSON.parse(deleted.body)).toBe(inv.id);
      expect(String(deleted.headers['x-rillet-signature'])).toBe(verify(ril.signingToken, deleted.headers, deleted.body));
      expect(Number.isNaN(Date.parse(String(created.headers['x-rillet-timestamp'])))).toBe(false);

      // rotation: one signature per token, comma-separated
      const old = ril.signingToken;
      const fresh = ril.rotateSigningToken();
      ril.signingTokens = [fresh, old];
      const other = [...ril.data.invoices.keys()][3]!;
      const sent = await ril.sendWebhook(rx.url, { entity: 'INVOICE', event: 'UPDATED', id: other });
      expect(sent.status).toBe(200);
      const sigs = sent.sent.headers['X-Rillet-Signature']!.split(',');
      expect(sigs).toEqual([verify(fresh, sent.sent.headers, sent.sent.body), verify(old, sent.sent.headers, sent.sent.body)]);

      const tampered = await ril.sendWebhook(rx.url, { entity: 'INVOICE', event: 'UPDATED', id: other }, { tamper: true, token: old });
      expect(tampered.sent.headers['X-Rillet-Signature']).not.toBe(verify(old, tampered.sent.headers, tampered.sent.body));
    } finally {
      ril.webhookTargets = [];
      await rx.close();
    }
  });
});

describe('generation speed', () => {
  // CPU time of this process, not wall time: the shared CI box runs other jobs at the same time.
  const cpuMs = (since: NodeJS.CpuUsage): number => {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1000;
  };

  it('generates 20,000 invoices × 5 lines in under 2 s for each fake', async () => {
    const counts = { customers: 2000, products: 50, invoices: 20_000, creditNotes: 200 };
    let c0 = process.cpuUsage();
    let t0 = performance.now();
    const s = await startFakeSequence({ counts, linesPerInvoice: 5 });
    const seq = { cpu: cpuMs(c0), wall: performance.now() - t0 };
    c0 = process.cpuUsage();
    t0 = performance.now();
    const r = await startFakeRillet({ counts, linesPerInvoice: 5 });
    const ril = { cpu: cpuMs(c0), wall: performance.now() - t0 };
    try {
      expect(s.data.invoices.size).toBe(20_000);
      expect(r.data.invoices.size).toBe(20_000);
      expect(seq.cpu, `Sequence generation ${JSON.stringify(seq)}`).toBeLessThan(2000);
      expect(ril.cpu, `Rillet generation ${JSON.stringify(ril)}`).toBeLessThan(2000);
      expect(seq.wall + ril.wall).toBeLessThan(20_000); // only catches something pathological
      // a deep page is as cheap as the first (keyset pagination)
      const last = [...s.data.invoices.keys()][100]!;
      const page = await call(`${s.url}/invoices?limit=100&after=${Buffer.from(last).toString('base64')}`, { headers: { authorization: s.authorization } });
      expect(page.body.items).toHaveLength(100);
      expect(s.lineItemsOf(page.body.items[0].id)).toHaveLength(5);
      const rp = await call(`${r.url}/invoices?limit=100`, { headers: { authorization: r.authorization, 'X-Rillet-API-Version': '4' } });
      expect(rp.body.invoices[0].items).toHaveLength(5);
    } finally {
      await Promise.all([s.close(), r.close()]);
    }
  });
});
