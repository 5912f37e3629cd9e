/**
 * The fake Stripe API over real sockets (undici): auth and version pinning, list envelopes and
 * cursor pagination, created filters, embedded invoice lines and their follow-up list, form-only
 * POSTs, manual tax amounts on draft lines, idempotency replays and conflicts, the finalization
 * window, the events feed, webhook endpoints whose secret comes back once, and signatures checked
 * with an HMAC computed here (docs: hex HMAC-SHA256 of "<t>.<body>", key = the whsec_ string's bytes).
 */
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeStripe, stripeExponent, type FakeStripe } from '../fakes/stripe.ts';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.ts';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Json;
}

/** Stripe's form style, written here independently of the fake: a[0][b]=x, booleans as true/false. */
function form(v: Record<string, unknown>): string {
  const out: string[] = [];
  const walk = (prefix: string, x: unknown): void => {
    if (x === undefined) return;
    if (Array.isArray(x)) x.forEach((y, i) => walk(`${prefix}[${i}]`, y));
    else if (x !== null && typeof x === 'object') for (const [k, y] of Object.entries(x)) walk(prefix === '' ? k : `${prefix}[${k}]`, y);
    else out.push(`${encodeURIComponent(prefix)}=${encodeURIComponent(String(x ?? ''))}`);
  };
  walk('', v);
  return out.join('&');
}

function client(s: FakeStripe, auth: string = s.authorization) {
  return async (method: string, path: string, body?: Record<string, unknown> | string, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await request(s.url + path, {
      method: method as 'GET',
      headers: {
        ...(auth ? { authorization: auth } : {}),
        ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : form(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
  };
}

const taxAmount = (amount: number, taxable: number, name: string, pct: string, extra: Record<string, string> = {}): Record<string, unknown> => ({
  amount, taxable_amount: taxable, taxability_reason: 'standard_rated',
  tax_rate_data: { display_name: name, inclusive: false, percentage: pct, country: 'US', state: 'TX', jurisdiction_level: 'state', tax_type: 'sales_tax', ...extra },
});

describe('fake Stripe', () => {
  let s: FakeStripe;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    s = await startFakeStripe({ seed: 7, rateLimit: false, counts: { customers: 23, invoices: 30, creditNotes: 4 } });
    api = client(s);
  });
  afterAll(async () => {
    await s.close();
  });

  it('takes the secret key as Bearer or as the Basic user name, echoes the pinned Stripe-Version and refuses others', async () => {
    const none = await client(s, '')('GET', '/v1/customers');
    expect(none.status).toBe(401);
    expect(none.body.error.type).toBe('invalid_request_error');
    expect(none.body.error.message).toMatch(/did not provide an API key/);
    expect((await client(s, 'Bearer sk_test_wrong')('GET', '/v1/customers')).status).toBe(401);
    const basic = await client(s, `Basic ${Buffer.from(`${s.secretKey}:`).toString('base64')}`)('GET', '/v1/customers?limit=1');
    expect(basic.status).toBe(200);
    const pinned = await api('GET', '/v1/customers?limit=1', undefined, { 'Stripe-Version': '2025-03-31.basil' });
    expect(pinned.headers['stripe-version']).toBe('2025-03-31.basil');
    expect(pinned.headers['request-id']).toMatch(/^req_/);
    const other = await api('GET', '/v1/customers', undefined, { 'Stripe-Version': '2020-08-27' });
    expect(other.status).toBe(400);
    expect(other.body.error.message).toMatch(/Invalid Stripe API version: 2020-08-27/);
  });

  it('pages every list newest first with starting_after / ending_before inside {object:"list", data, has_more, url}', async () => {
    const seen: Json[] = [];
    let after: string | undefined;
    for (let guard = 0; guard < 20; guard++) {
      const page = await api('GET', `/v1/customers?limit=7${after ? `&starting_after=${after}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body).toMatchObject({ object: 'list', url: '/v1/customers' });
      seen.push(...page.body.data);
      if (!page.body.has_more) break;
      after = page.body.data.at(-1).id;
    }
    expect(seen.length).toBe(s.data.customers.size);
    expect(new Set(seen.map((c) => c.id)).size).toBe(seen.length);
    for (let i = 1; i < seen.length; i++) expect(seen[i - 1].created).toBeGreaterThanOrEqual(seen[i].created);
    // ending_before goes back to the page before (newer objects), same order
    const back = await api('GET', `/v1/customers?limit=7&ending_before=${seen[7].id}`);
    expect(back.body.data.map((c: Json) => c.id)).toEqual(seen.slice(0, 7).map((c) => c.id));
    expect(back.body.has_more).toBe(false);
    const both = await api('GET', `/v1/customers?starting_after=${seen[1].id}&ending_before=${seen[0].id}`);
    expect(both.status).toBe(400);
    const gone = await api('GET', '/v1/customers?starting_after=cus_doesnotexist');
    expect(gone.body.error).toMatchObject({ code: 'resource_missing', param: 'starting_after' });
  });

  it('filters lists with created[gt] / created[gte] in unix seconds', async () => {
    const all = [...s.data.invoices.values()].map((i) => i.created).sort((a, b) => a - b);
    const pivot = all[Math.floor(all.length / 2)]!;
    const gt = await api('GET', `/v1/invoices?limit=100&created[gt]=${pivot}`);
    expect(gt.body.data.length).toBe(all.filter((c) => c > pivot).length);
    expect(gt.body.data.every((i: Json) => i.created > pivot)).toBe(true);
    const gte = await api('GET', `/v1/invoices?limit=100&created[gte]=${pivot}`);
    expect(gte.body.data.length).toBe(all.filter((c) => c >= pivot).length);
    expect((await api('GET', '/v1/invoices?created[gt]=soon')).body.error.code).toBe('parameter_invalid_integer');
  });

  it('embeds the first 10 lines of an invoice and pages the rest from /v1/invoices/:id/lines', async () => {
    const inv = s.createInvoice({ lineCount: 23, autoAdvance: false });
    const got = await api('GET', `/v1/invoices/${inv.id}`);
    expect(got.body.lines).toMatchObject({ object: 'list', has_more: true, url: `/v1/invoices/${inv.id}/lines` });
    expect(got.body.lines.data).toHaveLength(10);
    const lines: Json[] = [...got.body.lines.data];
    let page = await api('GET', `/v1/invoices/${inv.id}/lines?limit=5&starting_after=${lines.at(-1).id}`);
    for (let guard = 0; guard < 10; guard++) {
      lines.push(...page.body.data);
      if (!page.body.has_more) break;
      page = await api('GET', `/v1/invoices/${inv.id}/lines?limit=5&starting_after=${lines.at(-1).id}`);
    }
    expect(lines.map((l) => l.id)).toEqual(s.linesOf(inv.id).map((l) => l.id));
    // basil line shape: pricing.price_details, parent, taxes[]
    expect(lines[0]).toMatchObject({ object: 'line_item', invoice: inv.id, pricing: { type: 'price_details' }, taxes: [] });
    expect(lines[0].parent.type).toMatch(/_details$/);
    expect(got.body.subtotal).toBe(lines.reduce((t, l) => t + l.amount, 0));
  });

  it('refuses JSON bodies with Stripe\'s error envelope and unknown parameters by name; reads bracketed form keys', async () => {
    const json = await api('POST', '/v1/customers', JSON.stringify({ name: 'Acme' }), { 'content-type': 'application/json' });
    expect(json.status).toBe(400);
    expect(json.body).toEqual({ error: { type: 'invalid_request_error', message: expect.stringMatching(/application\/x-www-form-urlencoded/) } });
    const unknown = await api('POST', '/v1/customers', { name: 'Acme', nmae: 'typo' });
    expect(unknown.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_unknown', param: 'nmae' });
    const made = await api('POST', '/v1/customers', { name: 'Acme Form Co', address: { line1: '1 Main St', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, metadata: { crm: '42' } });
    expect(made.status).toBe(200);
    expect(made.body).toMatchObject({ object: 'customer', name: 'Acme Form Co', address: { city: 'Austin', country: 'US', line2: null }, metadata: { crm: '42' } });
    const bad = await api('POST', '/v1/customers', { address: { country: 'USA' } });
    expect(bad.body.error.param).toBe('address[country]');
  });

  it('writes manual tax_amounts onto a draft line: taxes[], total_taxes and totals follow, identical tax_rate_data reuses one archived TaxRate', async () => {
    const inv = s.createInvoice({ lines: [{ amount: 10_000, description: 'Platform' }, { amount: 5_000, description: 'Seats' }], finalizeAfterMs: 3_600_000 });
    const [l1, l2] = s.linesOf(inv.id);
    const one = await api('POST', `/v1/invoices/${inv.id}/lines/${l1!.id}`, {
      tax_amounts: [taxAmount(625, 10_000, 'Texas state tax', '6.25'), taxAmount(200, 10_000, 'Austin city tax', '2', { jurisdiction_level: 'city' })],
    });
    expect(one.status).toBe(200);
    expect(one.body.taxes).toHaveLength(2);
    expect(one.body.taxes[0]).toMatchObject({ amount: 625, taxable_amount: 10_000, tax_behavior: 'exclusive', taxability_reason: 'standard_rated', type: 'tax_rate_details' });
    const rate = await api('GET', `/v1/tax_rates/${one.body.taxes[0].tax_rate_details.tax_rate}`);
    expect(rate.body).toMatchObject({ object: 'tax_rate', active: false, percentage: 6.25, display_name: 'Texas state tax', state: 'TX', inclusive: false });
    // the bulk endpoint, same data for the state rate: the TaxRate is reused
    const bulk = await api('POST', `/v1/invoices/${inv.id}/update_lines`, { lines: [{ id: l2!.id, tax_amounts: [taxAmount(313, 5_000, 'Texas state tax', '6.25')] }] });
    expect(bulk.status).toBe(200);
    const l2taxes = bulk.body.lines.data.find((l: Json) => l.id === l2!.id).taxes;
    expect(l2taxes[0].tax_rate_details.tax_rate).toBe(one.body.taxes[0].tax_rate_details.tax_rate);
    expect(bulk.body).toMatchObject({ subtotal: 15_000, total: 15_000 + 625 + 200 + 313, amount_due: 16_138, total_excluding_tax: 15_000 });
    expect(bulk.body.total_taxes.find((t: Json) => t.tax_rate_details.tax_rate === one.body.taxes[0].tax_rate_details.tax_rate)).toMatchObject({ amount: 938, taxable_amount: 15_000 });
    // an empty value unsets
    const cleared = await api('POST', `/v1/invoices/${inv.id}/lines/${l2!.id}`, 'tax_amounts=');
    expect(cleared.body.taxes).toEqual([]);
    // field checks name the parameter
    const pct = await api('POST', `/v1/invoices/${inv.id}/lines/${l1!.id}`, { tax_amounts: [taxAmount(1, 1, 'x', '101')] });
    expect(pct.body.error.param).toBe('tax_amounts[0][tax_rate_data][percentage]');
    const req = await api('POST', `/v1/invoices/${inv.id}/lines/${l1!.id}`, { tax_amounts: [{ amount: 1, taxable_amount: 1 }] });
    expect(req.body.error).toMatchObject({ code: 'parameter_missing', param: 'tax_amounts[0][tax_rate_data]' });
    // Stripe refuses manual amounts while automatic tax is on
    const auto = s.createInvoice({ lines: [{ amount: 100 }], automaticTax: true });
    const refused = await api('POST', `/v1/invoices/${auto.id}/lines/${s.linesOf(auto.id)[0]!.id}`, { tax_amounts: [taxAmount(8, 100, 'Sales tax', '8')] });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/automatic_tax/);
  });

  it('replays the same Idempotency-Key with the same parameters and refuses it with other parameters (idempotency_error); validation failures are not stored', async () => {
    const inv = s.createInvoice({ lines: [{ amount: 2_000 }] });
    const line = s.linesOf(inv.id)[0]!;
    const path = `/v1/invoices/${inv.id}/lines/${line.id}`;
    const body = { tax_amounts: [taxAmount(165, 2_000, 'Sales tax', '8.25')] };
    const events = (): number => [...s.data.events.values()].filter((e) => e.type === 'invoice.updated' && (e.data.object as Json).id === inv.id).length;
    const first = await api('POST', path, body, { 'Idempotency-Key': 'tax-a' });
    const n = events();
    const again = await api('POST', path, body, { 'Idempotency-Key': 'tax-a' });
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(events()).toBe(n); // not executed twice
    const other = await api('POST', path, { tax_amounts: [taxAmount(166, 2_000, 'Sales tax', '8.3')] }, { 'Idempotency-Key': 'tax-a' });
    expect(other.status).toBe(400);
    expect(other.body.error.type).toBe('idempotency_error');
    expect(other.body.error.message).toMatch(/same parameters/);
    const invalid = await api('POST', path, { tax_amounts: [{ amount: 'x' }] }, { 'Idempotency-Key': 'tax-b' });
    expect(invalid.status).toBe(400);
    const retried = await api('POST', path, body, { 'Idempotency-Key': 'tax-b' });
    expect(retried.status).toBe(200);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });

  it('lists every change in /v1/events (type wildcards, types[], created) with the object as it was', async () => {
    const c = s.createCustomer({ name: 'Events Co' });
    s.updateCustomer(c.id, { email: 'billing@events.example' });
    const inv = s.createInvoice({ customer: c.id, lines: [{ amount: 700 }] });
    const feed = await api('GET', '/v1/events?type=customer.*&limit=100');
    const mine = feed.body.data.filter((e: Json) => e.data.object.id === c.id);
    expect(mine.map((e: Json) => e.type)).toEqual(['customer.updated', 'customer.created']);
    expect(mine[0]).toMatchObject({ object: 'event', api_version: s.apiVersion, data: { previous_attributes: { email: expect.any(String) } } });
    expect(mine[1].data.object.email).not.toBe('billing@events.example'); // a snapshot, not the live record
    const typed = await api('GET', `/v1/events?types[]=invoice.created&created[gte]=${mine[1].created}&limit=100`);
    expect(typed.body.data.some((e: Json) => e.data.object.id === inv.id && e.type === 'invoice.created')).toBe(true);
    expect(typed.body.data.every((e: Json) => e.type === 'invoice.created')).toBe(true);
  });

  it('deletes a customer: the GET answers {deleted: true}, lists skip it, an event says customer.deleted', async () => {
    const c = s.createCustomer({ name: 'Leaving Ltd' });
    const del = await api('DELETE', `/v1/customers/${c.id}`);
    expect(del.body).toEqual({ id: c.id, object: 'customer', deleted: true });
    expect((await api('GET', `/v1/customers/${c.id}`)).body).toEqual({ id: c.id, object: 'customer', deleted: true });
    const all = await api('GET', '/v1/customers?limit=100');
    expect(all.body.data.some((x: Json) => x.id === c.id)).toBe(false);
    const ev = await api('GET', '/v1/events?type=customer.deleted');
    expect(ev.body.data[0].data.object.id).toBe(c.id);
  });

  it('counts amounts in Stripe\'s minor units: zero-decimal JPY, two-decimal ISK in multiples of 100, lower-case currencies', async () => {
    expect([stripeExponent('jpy'), stripeExponent('krw'), stripeExponent('isk'), stripeExponent('usd'), stripeExponent('kwd')]).toEqual([0, 0, 2, 2, 3]);
    const isk = await api('GET', '/v1/prices?currency=isk&limit=100');
    expect(isk.body.data.length).toBeGreaterThan(0);
    expect(isk.body.data.every((p: Json) => p.currency === 'isk' && Number.isInteger(p.unit_amount) && p.unit_amount % 100 === 0)).toBe(true);
    const tokyo = [...s.data.customers.values()].find((c) => c.address?.country === 'JP')!;
    expect(tokyo.currency).toBe('jpy');
    const inv = s.createInvoice({ customer: tokyo.id, lineCount: 2 });
    const got = await api('GET', `/v1/invoices/${inv.id}`);
    expect(got.body.currency).toBe('jpy');
    expect(got.body.lines.data.every((l: Json) => Number.isInteger(l.amount) && l.currency === 'jpy')).toBe(true);
  });
});

describe('fake Stripe: webhook endpoints and signed deliveries', () => {
  let s: FakeStripe;
  let rx: Receiver;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    s = await startFakeStripe({ seed: 3, rateLimit: false, counts: { customers: 5, invoices: 3, creditNotes: 0 }, webhookDelivery: { attempts: 3, backoffMs: 20 } });
    rx = await startReceiver('/stripe');
    api = client(s);
  });
  afterAll(async () => {
    await s.close();
    await rx.close();
  });

  it('returns the whsec_ secret only on create; deliveries carry Stripe-Signature t=..,v1=.. that verifies with the documented HMAC', async () => {
    const made = await api('POST', '/v1/webhook_endpoints', { url: rx.url, enabled_events: ['invoice.created', 'invoice.updated'], description: 'taxbridge' });
    expect(made.status).toBe(200);
    expect(made.body).toMatchObject({ object: 'webhook_endpoint', url: rx.url, status: 'enabled', enabled_events: ['invoice.created', 'invoice.updated'] });
    const secret: string = made.body.secret;
    expect(secret).toMatch(/^whsec_/);
    const read = await api('GET', `/v1/webhook_endpoints/${made.body.id}`);
    expect(read.body.secret).toBeUndefined();
    expect((await api('GET', '/v1/webhook_endpoints')).body.data.every((e: Json) => e.secret === undefined)).toBe(true);

    const inv = s.createInvoice({ lines: [{ amount: 1_234 }] });
    s.createCustomer({ name: 'Not subscribed' }); // customer.created is not enabled: not sent
    await rx.waitFor(1);
    await s.deliveriesIdle();
    expect(rx.got).toHaveLength(1);
    const d = rx.got[0]!;
    const header = String(d.headers['stripe-signature']);
    const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=') as [string, string]));
    expect(Number(parts.t)).toBeGreaterThan(1_700_000_000);
    const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${parts.t}.${d.body}`).digest('hex');
    expect(parts.v1).toBe(expected);
    const event = JSON.parse(d.body);
    expect(event).toMatchObject({ object: 'event', type: 'invoice.created', data: { object: { id: inv.id, object: 'invoice', status: 'draft' } } });
    // a tampered body no longer matches
    expect(createHmac('sha256', secret).update(`${parts.t}.${d.body} `).digest('hex')).not.toBe(parts.v1);
  });

  it('retries a failed delivery, then stops delivering once the endpoint is deleted', async () => {
    rx.got.length = 0;
    rx.statuses.push(500);
    const inv = s.createInvoice({ lines: [{ amount: 50 }] });
    await rx.waitFor(2);
    await s.deliveriesIdle();
    expect(rx.got.map((g) => JSON.parse(g.body).data.object.id)).toEqual([inv.id, inv.id]);
    const ep = [...s.data.webhookEndpoints.values()][0]!;
    const del = await api('DELETE', `/v1/webhook_endpoints/${ep.id}`);
    expect(del.body).toEqual({ id: ep.id, object: 'webhook_endpoint', deleted: true });
    rx.got.length = 0;
    s.createInvoice({ lines: [{ amount: 60 }] });
    await s.deliveriesIdle();
    expect(rx.got).toHaveLength(0);
  });
});

describe('fake Stripe: automatic finalization and limits', () => {
  it('finalizes an auto_advance draft after its window; its lines then refuse updates with invoice_not_editable', async () => {
    const s = await startFakeStripe({ seed: 5, rateLimit: false, counts: { customers: 3, invoices: 0, creditNotes: 0 }, finalizeAfterMs: 60_000 });
    try {
      const api = client(s);
      const inv = s.createInvoice({ lines: [{ amount: 1_000 }] });
      const draft = await api('GET', `/v1/invoices/${inv.id}`);
      expect(draft.body).toMatchObject({ status: 'draft', auto_advance: true });
      expect(draft.body.automatically_finalizes_at).toBeGreaterThanOrEqual(draft.body.created + 59);
      const held = s.createInvoice({ lines: [{ amount: 1_000 }], autoAdvance: false });
      // move the clock past the window instead of waiting an hour
      expect(s.advanceDrafts(Date.now() + 61_000)).toEqual([inv.id]);
      const open = await api('GET', `/v1/invoices/${inv.id}`);
      expect(open.body).toMatchObject({ status: 'open', automatically_finalizes_at: null, number: expect.any(String) });
      expect(open.body.status_transitions.finalized_at).toBeGreaterThan(0);
      expect((await api('GET', `/v1/invoices/${held.id}`)).body.status).toBe('draft');
      const late = await api('POST', `/v1/invoices/${inv.id}/lines/${s.linesOf(inv.id)[0]!.id}`, { tax_amounts: [taxAmount(83, 1_000, 'Sales tax', '8.25')] });
      expect(late.status).toBe(400);
      expect(late.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invoice_not_editable' });
      const types = (await api('GET', '/v1/events?type=invoice.finalized')).body.data.map((e: Json) => e.data.object.id);
      expect(types).toContain(inv.id);

      // and the fake's own timer does it when the (short) window passes
      s.finalizeAfterMs = 50;
      const quick = s.createInvoice({ lines: [{ amount: 10 }] });
      for (let i = 0; i < 200 && s.data.invoices.get(quick.id)!.status === 'draft'; i++) await new Promise((r) => setTimeout(r, 25));
      expect(s.data.invoices.get(quick.id)!.status).toBe('open');
    } finally {
      await s.close();
    }
  });

  it('limits requests per mode (25/s test, 100/s live) and answers 429 with Stripe\'s error body', async () => {
    const test = await startFakeStripe({ counts: { customers: 2, invoices: 0, creditNotes: 0 } });
    const live = await startFakeStripe({ secretKey: 'sk_live_taxbridge_fake', counts: { customers: 1, invoices: 0, creditNotes: 0 } });
    try {
      expect(test.rateLimit).toEqual({ requests: 25, perSeconds: 1 });
      expect(live.rateLimit).toEqual({ requests: 100, perSeconds: 1 });
      expect(live.livemode).toBe(true);
      test.setRateLimit({ requests: 2, perSeconds: 60 });
      const api = client(test);
      const answers = [await api('GET', '/v1/customers'), await api('GET', '/v1/customers'), await api('GET', '/v1/customers')];
      expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
      expect(answers[2]!.body.error).toMatchObject({ type: 'invalid_request_error', code: 'rate_limit' });
    } finally {
      await test.close();
      await live.close();
    }
  });
});
