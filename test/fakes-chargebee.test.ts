/**
 * The fake Chargebee API over real sockets (undici): one site addressed by Host or by a /sites/<site>
 * path, Basic auth with the API key as user name, {list:[{customer:{...}}], next_offset} pages,
 * updated_at[after] with sort_by[asc]=updated_at, include_deleted, Product Catalog 2.0 items and
 * prices, invoices in cents, index-last form arrays (and JSON refused), the error envelope, 429s,
 * idempotency replays, and webhooks authenticated with HTTP Basic (decoded here independently).
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChargebee, type FakeChargebee } from '../fakes/chargebee.ts';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.ts';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Json;
}

function client(base: string, auth: string) {
  return async (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await request(base + path, {
      method: method as 'GET',
      headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
      body,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
  };
}

const basicOf = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** Every page of a list, following next_offset (passed back unchanged). */
async function all(api: ReturnType<typeof client>, path: string, key: string): Promise<{ rows: Json[]; pages: number }> {
  const rows: Json[] = [];
  let offset: string | undefined;
  let pages = 0;
  for (let guard = 0; guard < 50; guard++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', `${path}${offset ? `${sep}offset=${encodeURIComponent(offset)}` : ''}`);
    expect(page.status).toBe(200);
    pages++;
    for (const entry of page.body.list) {
      expect(Object.keys(entry)).toEqual([key]);
      rows.push(entry[key]);
    }
    offset = page.body.next_offset;
    if (offset === undefined) break;
    expect(typeof offset).toBe('string');
  }
  return { rows, pages };
}

describe('fake Chargebee', () => {
  let cb: FakeChargebee;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    cb = await startFakeChargebee({ seed: 11, rateLimit: false, counts: { customers: 23, items: 5, invoices: 27, creditNotes: 4 } });
    api = client(cb.url, cb.authorization);
  });
  afterAll(async () => {
    await cb.close();
  });

  it('authenticates with the API key as Basic user name and an empty password; errors use Chargebee\'s envelope', async () => {
    expect(cb.authorization).toBe(basicOf(cb.apiKey, ''));
    expect((await api('GET', '/customers?limit=1')).status).toBe(200);
    const none = await client(cb.url, '')('GET', '/customers');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ api_error_code: 'api_authentication_failed', error_code: 'api_authentication_failed', http_status_code: 401, message: expect.any(String) });
    expect((await client(cb.url, basicOf('test_wrong', ''))('GET', '/customers')).body.api_error_code).toBe('api_authentication_failed');
    const missing = await api('GET', '/customers/nobody');
    expect(missing.body).toMatchObject({ type: 'invalid_request', api_error_code: 'resource_not_found', http_status_code: 404 });
    const badLimit = await api('GET', '/customers?limit=101');
    expect(badLimit.body).toMatchObject({ api_error_code: 'param_wrong_value', param: 'limit', http_status_code: 400 });
  });

  it('serves one site, named by the Host header or a /sites/<site> path; another site is site_not_found', async () => {
    const viaPath = await client(cb.siteUrl(), cb.authorization)('GET', '/customers?limit=1');
    expect(viaPath.status).toBe(200);
    expect((await client(cb.siteUrl('someone-else'), cb.authorization)('GET', '/customers')).body).toMatchObject({ api_error_code: 'site_not_found', http_status_code: 404 });
    const viaHost = await api('GET', '/customers?limit=1', undefined, { host: `${cb.site}.chargebee.com` });
    expect(viaHost.status).toBe(200);
    const otherHost = await api('GET', '/customers?limit=1', undefined, { host: 'other-site.chargebee.com' });
    expect(otherHost.body.api_error_code).toBe('site_not_found');
    expect(cb.sitesSeen.slice(-4)).toEqual([cb.site, 'someone-else', cb.site, 'other-site']);
  });

  it('pages with limit and the opaque next_offset, every record once, each wrapped in its resource name', async () => {
    const { rows, pages } = await all(api, '/customers?limit=7', 'customer');
    expect(pages).toBe(Math.ceil(cb.data.customers.size / 7));
    expect(rows.length).toBe(cb.data.customers.size);
    expect(new Set(rows.map((c) => c.id)).size).toBe(rows.length);
    expect(rows[0]).toMatchObject({ object: 'customer', deleted: false, taxability: expect.stringMatching(/^(taxable|exempt)$/) });
    expect((await api('GET', '/customers?offset=not-an-offset')).body).toMatchObject({ api_error_code: 'param_wrong_value', param: 'offset' });
    const single = await api('GET', `/customers/${rows[0].id}`);
    expect(Object.keys(single.body)).toEqual(['customer']);
  });

  it('reads changes with updated_at[after] (Unix seconds) in sort_by[asc]=updated_at order', async () => {
    const times = [...cb.data.invoices.values()].map((i) => i.updated_at).sort((a, b) => a - b);
    const since = times[Math.floor(times.length / 3)]!;
    const { rows } = await all(api, `/invoices?limit=5&sort_by[asc]=updated_at&updated_at[after]=${since}`, 'invoice');
    expect(rows.length).toBe(times.filter((t) => t > since).length);
    for (let i = 1; i < rows.length; i++) expect(rows[i].updated_at).toBeGreaterThanOrEqual(rows[i - 1].updated_at);
    expect(rows.every((r) => r.updated_at > since)).toBe(true);
    // a record changed while paging moves to the end of the order, after the cursor
    const first = rows[0];
    cb.updateInvoice(first.id, { comment: 'touched' });
    const again = await all(api, `/invoices?limit=100&sort_by[asc]=updated_at&updated_at[after]=${since}`, 'invoice');
    expect(again.rows.at(-1).id).toBe(first.id);
    const badOp = await api('GET', '/invoices?updated_at[since]=1');
    expect(badOp.body.param).toBe('updated_at[since]');
    const badSort = await api('GET', '/invoices?sort_by[asc]=total');
    expect(badSort.body.param).toBe('sort_by[asc]');
  });

  it('hides deleted records unless include_deleted=true, where they carry deleted: true', async () => {
    const victim = [...cb.data.customers.values()].find((c) => !c.deleted)!;
    const del = await api('POST', `/customers/${victim.id}/delete`, '');
    expect(del.status).toBe(200);
    expect(del.body.customer).toMatchObject({ id: victim.id, deleted: true });
    const live = await all(api, '/customers?limit=100', 'customer');
    expect(live.rows.some((c) => c.id === victim.id)).toBe(false);
    const withDeleted = await all(api, `/customers?limit=100&include_deleted=true&updated_at[after]=${victim.updated_at - 1}`, 'customer');
    expect(withDeleted.rows.find((c) => c.id === victim.id)).toMatchObject({ deleted: true });
    expect((await api('GET', `/customers/${victim.id}`)).status).toBe(404);
    expect((await api('GET', '/customers?include_deleted=yes')).body.param).toBe('include_deleted');
  });

  it('lists Product Catalog 2.0 items and item prices (integer cents, upper-case currency) with filters', async () => {
    const items = await all(api, '/items?limit=100', 'item');
    expect(items.rows.length).toBe(5);
    expect(items.rows[0]).toMatchObject({ object: 'item', item_family_id: expect.any(String), type: expect.stringMatching(/^(plan|addon|charge)$/) });
    const item = items.rows[0];
    const prices = await all(api, `/item_prices?limit=100&item_id[is]=${item.id}`, 'item_price');
    expect(prices.rows.map((p) => p.currency_code).sort()).toEqual(['CAD', 'EUR', 'GBP', 'USD']);
    expect(prices.rows.every((p) => p.item_id === item.id && Number.isInteger(p.price) && p.object === 'item_price')).toBe(true);
    const usd = await all(api, `/item_prices?limit=100&currency_code[in]=${encodeURIComponent('["USD"]')}`, 'item_price');
    expect(usd.rows.length).toBe(5);
  });

  it('keeps invoice money in cents: sub_total = Σ line amounts, tax = Σ line tax, total = sub_total + tax', async () => {
    const { rows } = await all(api, '/invoices?limit=100', 'invoice');
    expect(rows.length).toBe(cb.data.invoices.size);
    for (const inv of rows) {
      expect(inv.currency_code).toMatch(/^[A-Z]{3}$/);
      const sub = inv.line_items.reduce((t: number, l: Json) => t + l.amount, 0);
      const tax = inv.line_items.reduce((t: number, l: Json) => t + l.tax_amount, 0);
      expect([inv.sub_total, inv.tax, inv.total]).toEqual([sub, tax, sub + tax]);
      expect(inv.line_item_taxes.reduce((t: number, x: Json) => t + x.tax_amount, 0)).toBe(tax);
    }
    const notes = await all(api, '/credit_notes?limit=100', 'credit_note');
    expect(notes.rows.length).toBe(4);
    expect(notes.rows.every((n) => cb.data.invoices.has(n.reference_invoice_id))).toBe(true);
  });

  it('takes form bodies only, with index-last arrays; the Stripe style a[0][b] is refused by name', async () => {
    const customer = [...cb.data.customers.values()].find((c) => !c.deleted)!;
    const json = await api('POST', '/customers', JSON.stringify({ first_name: 'Ann' }), { 'content-type': 'application/json' });
    expect(json.status).toBe(400);
    expect(json.body.message).toMatch(/x-www-form-urlencoded/);
    const price = [...cb.data.itemPrices.values()].find((p) => p.currency_code === customer.preferred_currency_code)!;
    const made = await api('POST', '/invoices/create_for_charge_items_and_charges',
      `customer_id=${customer.id}&item_prices[item_price_id][0]=${price.id}&item_prices[quantity][0]=3&charges[amount][0]=1500&charges[description][0]=Setup`);
    expect(made.status).toBe(200);
    expect(made.body.invoice.line_items.map((l: Json) => [l.entity_type, l.quantity, l.amount])).toEqual([
      [`${price.item_type}_item_price`, 3, price.price * 3], ['adhoc', 1, 1500],
    ]);
    const stripeStyle = await api('POST', '/invoices/create_for_charge_items_and_charges', `customer_id=${customer.id}&item_prices[0][item_price_id]=${price.id}`);
    expect(stripeStyle.status).toBe(400);
    expect(stripeStyle.body).toMatchObject({ param: 'item_prices', message: expect.stringMatching(/index last/) });
    const created = await api('POST', '/customers', 'first_name=Ann&last_name=Lee&billing_address[line1]=1+Main+St&billing_address[city]=Austin&billing_address[state_code]=TX&billing_address[zip]=78701&billing_address[country]=US');
    expect(created.body.customer).toMatchObject({ first_name: 'Ann', billing_address: { city: 'Austin', state_code: 'TX', country: 'US' } });
    const updated = await api('POST', `/invoices/${made.body.invoice.id}/update_details`, 'po_number=PO-7');
    expect(updated.body.invoice.po_number).toBe('PO-7');
    const noTax = await api('POST', `/invoices/${made.body.invoice.id}/update_details`, 'taxes[amount][0]=5');
    expect(noTax.body).toMatchObject({ api_error_code: 'param_wrong_value', param: 'taxes' });
  });

  it('replays a chargebee-idempotency-key with the same body and marks the replay', async () => {
    const c = [...cb.data.customers.values()].find((x) => !x.deleted)!;
    const first = await api('POST', `/customers/${c.id}`, 'company=Idem+Co', { 'chargebee-idempotency-key': 'k-1' });
    const again = await api('POST', `/customers/${c.id}`, 'company=Idem+Co', { 'chargebee-idempotency-key': 'k-1' });
    expect(again.headers['chargebee-idempotency-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await api('POST', `/customers/${c.id}`, 'company=Other', { 'chargebee-idempotency-key': 'k-1' })).status).toBe(409);
  });

  it('pages long invoices\' line items with line_items_next_offset', async () => {
    const small = await startFakeChargebee({ seed: 2, rateLimit: false, lineItemsLimit: 5, counts: { customers: 2, items: 3, invoices: 0, creditNotes: 0 } });
    try {
      const inv = small.createInvoice({ lineCount: 12 });
      const sapi = client(small.url, small.authorization);
      const first = await sapi('GET', `/invoices/${inv.id}`);
      expect(first.body.invoice.line_items).toHaveLength(5);
      expect(first.body.invoice.line_items_next_offset).toBe('5');
      const rest = await sapi('GET', `/invoices/${inv.id}?line_items_limit=100&line_items_offset=5`);
      expect(rest.body.invoice.line_items).toHaveLength(7);
      expect(rest.body.invoice.line_items_next_offset).toBeUndefined();
      expect([...first.body.invoice.line_items, ...rest.body.invoice.line_items].map((l: Json) => l.id)).toEqual(inv.line_items.map((l) => l.id));
    } finally {
      await small.close();
    }
  });

  it('answers 429 api_request_limit_exceeded past the site\'s rate (a test site: 150 per minute)', async () => {
    const limited = await startFakeChargebee({ counts: { customers: 1, items: 1, invoices: 0, creditNotes: 0 } });
    try {
      expect(limited.rateLimit).toEqual({ requests: 150, perSeconds: 60 });
      limited.setRateLimit({ requests: 2, perSeconds: 60 });
      const lapi = client(limited.url, limited.authorization);
      const answers = [await lapi('GET', '/customers'), await lapi('GET', '/customers'), await lapi('GET', '/customers')];
      expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
      expect(answers[2]!.body).toMatchObject({ api_error_code: 'api_request_limit_exceeded', http_status_code: 429 });
      expect(Number(answers[2]!.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});

describe('fake Chargebee: webhooks with HTTP Basic auth', () => {
  let cb: FakeChargebee;
  let rx: Receiver;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    cb = await startFakeChargebee({ seed: 4, rateLimit: false, counts: { customers: 4, items: 3, invoices: 2, creditNotes: 0 }, webhookDelivery: { attempts: 3, backoffMs: 20 } });
    rx = await startReceiver('/chargebee');
    api = client(cb.url, cb.authorization);
  });
  afterAll(async () => {
    await cb.close();
    await rx.close();
  });

  it('registers an endpoint with caller-chosen credentials and delivers events with Authorization: Basic, no HMAC', async () => {
    const reg = await api('POST', '/webhook_endpoints',
      `name=taxbridge&url=${encodeURIComponent(rx.url)}&api_version=v2&basic_auth_username=tb&basic_auth_password=${encodeURIComponent('s3cret:with colon')}&enabled_events[0]=invoice_generated&enabled_events[1]=invoice_updated`);
    expect(reg.status).toBe(200);
    expect(reg.body.webhook_endpoint).toMatchObject({ name: 'taxbridge', url: rx.url, api_version: 'v2', disabled: false, enabled_events: ['invoice_generated', 'invoice_updated'] });
    expect(JSON.stringify(reg.body)).not.toContain('s3cret'); // the password is write-only

    rx.statuses.push(401); // the first attempt is refused: Chargebee retries
    const inv = cb.createInvoice({ lineCount: 2 });
    cb.createCustomer({ first_name: 'Not', last_name: 'Subscribed' });
    await rx.waitFor(2);
    await cb.deliveriesIdle();
    expect(rx.got).toHaveLength(2);
    const d = rx.got[1]!;
    const auth = String(d.headers.authorization);
    expect(auth.startsWith('Basic ')).toBe(true);
    expect(Buffer.from(auth.slice(6), 'base64').toString('utf8')).toBe('tb:s3cret:with colon');
    expect(Object.keys(d.headers).some((h) => /signature|hmac/i.test(h))).toBe(false);
    const ev = JSON.parse(d.body);
    expect(ev).toMatchObject({ object: 'event', api_version: 'v2', event_type: 'invoice_generated', content: { invoice: { id: inv.id, total: inv.total } } });
    expect(ev.id).toMatch(/^ev_/);
    expect(Number.isInteger(ev.occurred_at)).toBe(true);

    const feed = await api('GET', `/events?event_type[is]=invoice_generated&limit=5`);
    expect(feed.body.list[0].event).toMatchObject({ id: ev.id, event_type: 'invoice_generated' });
  });

  it('sends no Authorization header to a target without credentials, and none at all once the endpoint is deleted', async () => {
    rx.got.length = 0;
    const ep = [...cb.data.webhookEndpoints.values()][0]!;
    expect((await api('POST', `/webhook_endpoints/${ep.id}/delete`, '')).status).toBe(200);
    cb.webhookTargets = [{ url: rx.url, events: ['customer_changed'] }];
    const c = [...cb.data.customers.values()][0]!;
    cb.updateCustomer(c.id, { company: 'Renamed Ltd' });
    cb.createInvoice({ lineCount: 1 }); // no longer subscribed anywhere
    await rx.waitFor(1);
    await cb.deliveriesIdle();
    expect(rx.got).toHaveLength(1);
    expect(rx.got[0]!.headers.authorization).toBeUndefined();
    expect(JSON.parse(rx.got[0]!.body)).toMatchObject({ event_type: 'customer_changed', content: { customer: { id: c.id, company: 'Renamed Ltd' } } });
  });

  it('turns credentials written into the webhook URL (https://user:pass@host/...) into the Basic header', async () => {
    rx.got.length = 0;
    cb.webhookTargets = [{ url: rx.url.replace('http://', 'http://hook%20user:p%40ss@'), events: ['customer_changed'] }];
    cb.updateCustomer([...cb.data.customers.values()][1]!.id, { company: 'Again Ltd' });
    await rx.waitFor(1);
    await cb.deliveriesIdle();
    expect(Buffer.from(String(rx.got[0]!.headers.authorization).slice(6), 'base64').toString('utf8')).toBe('hook user:p@ss');
  });
});
