import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, formDecode, formEncode, formFields, type HttpClient } from '../src/http/index.ts';
import type { HttpSpec, RequestSpec } from '../src/spec/types.ts';
import { startLocalServer, type Handler, type LocalServer } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

let server: LocalServer | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

async function setup(handler: Handler, http: HttpSpec = {}) {
  server = await startLocalServer(handler);
  client = createHttpClient(testSpec({ http }), testConn(server.url));
  return { server, client };
}

/** An endpoint like Stripe's: anything but a form body is a 400, the bytes are checked exactly. */
function formOnly(expected: string): Handler {
  return (req) => {
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return { status: 400, json: { error: { message: `form bodies only, got ${req.headers['content-type']}` } } };
    if (req.body !== expected) return { status: 400, json: { error: { message: `unexpected body ${req.body}` } } };
    return { json: { ok: true, seen: formDecode(req.body) } };
  };
}

const TAX_WRITE: RequestSpec = {
  method: 'POST',
  path: '/v1/invoices/in_1/lines/il_1',
  body: {
    description: 'Seat licence & support',
    discountable: false,
    metadata: { source: 'taxbridge', note: null },
    tax_amounts: '{{ [tax.{ "amount": amount, "tax_rate_data": { "percentage": rate, "inclusive": false, "display_name": name } }] }}',
  },
};
const TAX_CONTEXT = { tax: [{ amount: 825, rate: '8.25', name: 'TX state tax' }, { amount: 200, rate: '2', name: 'Austin city' }] };

describe('form bodies on the wire', () => {
  it('a form-only endpoint gets exactly the WHATWG-encoded bytes with indexed brackets (Stripe style)', async () => {
    const expected =
      'description=Seat+licence+%26+support&discountable=false&metadata%5Bsource%5D=taxbridge' +
      '&tax_amounts%5B0%5D%5Bamount%5D=825&tax_amounts%5B0%5D%5Btax_rate_data%5D%5Bpercentage%5D=8.25&tax_amounts%5B0%5D%5Btax_rate_data%5D%5Binclusive%5D=false&tax_amounts%5B0%5D%5Btax_rate_data%5D%5Bdisplay_name%5D=TX+state+tax' +
      '&tax_amounts%5B1%5D%5Bamount%5D=200&tax_amounts%5B1%5D%5Btax_rate_data%5D%5Bpercentage%5D=2&tax_amounts%5B1%5D%5Btax_rate_data%5D%5Binclusive%5D=false&tax_amounts%5B1%5D%5Btax_rate_data%5D%5Bdisplay_name%5D=Austin+city';
    const { server, client } = await setup(formOnly(expected), { body_encoding: 'form' });
    const res = await client.request(TAX_WRITE, TAX_CONTEXT);
    expect(res.status).toBe(200);
    expect(server.requests[0]!.body).toBe(expected);
    expect((res.body as { seen: unknown }).seen).toEqual({
      description: 'Seat licence & support',
      discountable: 'false',
      metadata: { source: 'taxbridge' },
      tax_amounts: [
        { amount: '825', tax_rate_data: { percentage: '8.25', inclusive: 'false', display_name: 'TX state tax' } },
        { amount: '200', tax_rate_data: { percentage: '2', inclusive: 'false', display_name: 'Austin city' } },
      ],
    });
  });

  it('the same write as JSON (no body_encoding) is refused by the form-only endpoint', async () => {
    const { client } = await setup(formOnly('x'));
    await expect(client.request(TAX_WRITE, TAX_CONTEXT)).rejects.toMatchObject({ code: 'HTTP_PERMANENT', status: 400, message: expect.stringContaining('form bodies only, got application/json') });
  });

  it('a request-level body_encoding and form style override the http defaults (Chargebee: index last)', async () => {
    const { server, client } = await setup(() => ({ json: {} }), { body_encoding: 'json' });
    await client.request({
      method: 'POST',
      path: '/api/v2/estimates',
      body_encoding: 'form',
      form: { arrays: 'index_last' },
      body: { customer_id: 'c 1', item_prices: [{ item_price_id: 'basic-USD', quantity: 2 }, { item_price_id: 'addon-USD', quantity: 1 }], coupon_ids: ['A', 'B'] },
    });
    const seen = server.requests[0]!;
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(seen.body).toBe(
      'customer_id=c+1&item_prices%5Bitem_price_id%5D%5B0%5D=basic-USD&item_prices%5Bquantity%5D%5B0%5D=2&item_prices%5Bitem_price_id%5D%5B1%5D=addon-USD&item_prices%5Bquantity%5D%5B1%5D=1&coupon_ids%5B0%5D=A&coupon_ids%5B1%5D=B',
    );
    expect([...new URLSearchParams(seen.body).keys()]).toEqual(['customer_id', 'item_prices[item_price_id][0]', 'item_prices[quantity][0]', 'item_prices[item_price_id][1]', 'item_prices[quantity][1]', 'coupon_ids[0]', 'coupon_ids[1]']);
  });

  it('a Content-Type header declared on the request wins over the encoding default', async () => {
    const { server, client } = await setup(() => ({ json: {} }));
    await client.request({ method: 'POST', path: '/x', body_encoding: 'form', headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: { a: 'é' } });
    expect(server.requests[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded; charset=utf-8');
    expect(server.requests[0]!.body).toBe('a=%C3%A9');
  });

  it('text bodies go as they render, with text/plain; an object is refused with a typed error', async () => {
    const { server, client } = await setup(() => ({ json: {} }));
    await client.request({ method: 'POST', path: '/query', body_encoding: 'text', body: "SELECT * FROM Invoice WHERE Id = '{{ id }}'" }, { id: '42' });
    expect(server.requests[0]!.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(server.requests[0]!.body).toBe("SELECT * FROM Invoice WHERE Id = '42'");
    await expect(client.request({ method: 'POST', path: '/query', body_encoding: 'text', body: { q: 1 } })).rejects.toMatchObject({ code: 'HTTP_BODY_ENCODING', message: 'a text body must render to a string, got an object' });
    await expect(client.request({ method: 'POST', path: '/f', body_encoding: 'form', body: '{{ [1, 2] }}' })).rejects.toMatchObject({ code: 'HTTP_BODY_ENCODING' });
    expect(server.requests).toHaveLength(1);
  });

  it('a cursor sent in the body keeps the form encoding on later pages', async () => {
    const { server, client } = await setup((req) => {
      const page = new URLSearchParams(req.body).get('page[after]');
      return { json: page ? { items: [{ id: 2 }], next: null } : { items: [{ id: 1 }], next: 'p2' } };
    });
    const ids: unknown[] = [];
    for await (const p of client.paginate({ method: 'POST', path: '/search', body_encoding: 'form', body: { filter: { status: 'open' } } }, { type: 'cursor', cursor: 'body.next', param: 'page.after', in: 'body' }, 'items')) ids.push(...p.records.map((r) => (r as { id: number }).id));
    expect(ids).toEqual([1, 2]);
    expect(server.requests.map((r) => r.body)).toEqual(['filter%5Bstatus%5D=open', 'filter%5Bstatus%5D=open&page%5Bafter%5D=p2']);
    expect(server.requests[1]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });
});

describe('form key rules (form_style)', () => {
  const value = { a: [{ b: 'x', c: [1, 2] }], s: ['p', 'q'] };

  it('array styles: indexed, index_last, brackets, repeat', () => {
    const keys = (style: Parameters<typeof formEncode>[1], v: unknown = value) => [...new URLSearchParams(formEncode(v, style))].map(([k, x]) => `${k}=${x}`);
    expect(keys({ arrays: 'indexed' })).toEqual(['a[0][b]=x', 'a[0][c][0]=1', 'a[0][c][1]=2', 's[0]=p', 's[1]=q']);
    expect(keys({ arrays: 'index_last' })).toEqual(['a[b][0]=x', 'a[c][0][0]=1', 'a[c][0][1]=2', 's[0]=p', 's[1]=q']);
    expect(keys({ arrays: 'brackets' })).toEqual(['a[][b]=x', 'a[][c][]=1', 'a[][c][]=2', 's[]=p', 's[]=q']);
    expect(keys({ arrays: 'repeat' }, { s: ['p', 'q'], expand: ['data.customer'] })).toEqual(['s=p', 's=q', 'expand=data.customer']);
    expect(() => formEncode(value, { arrays: 'repeat' })).toThrow(/repeat cannot encode the objects/);
  });

  it('nulls, empty strings, empty arrays and booleans as declared', () => {
    const v = { n: null, e: '', l: [], t: true, f: false, z: 0, u: undefined };
    expect(formEncode(v)).toBe('e=&t=true&f=false&z=0');
    expect(formEncode(v, { nulls: 'empty', empty_strings: 'omit', empty_arrays: 'empty', booleans: 'one_zero' })).toBe('n=&l=&t=1&f=0&z=0');
  });

  it('decodes forms into nested objects without touching prototypes, and into flat fields for spec tests', () => {
    const decoded = formDecode('payload%5Bsubscription%5D%5Bid%5D=7&payload%5Blines%5D%5B0%5D%5Bid%5D=l1&payload%5Blines%5D%5B1%5D%5Bid%5D=l2&tags%5B%5D=a&tags%5B%5D=b&__proto__%5Bpolluted%5D=1&x=1&x=2');
    expect(decoded).toEqual({ payload: { subscription: { id: '7' }, lines: [{ id: 'l1' }, { id: 'l2' }] }, tags: ['a', 'b'], ['__proto__']: { polluted: '1' }, x: ['1', '2'] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(formFields('a%5B0%5D=1&b=2&b=3')).toEqual({ 'a[0]': '1', b: ['2', '3'] });
  });

  it('round-trips what it encodes (indexed)', () => {
    const v = { customer: { address: { line1: '1 Main St', city: 'Austin' } }, lines: [{ id: 'il_1', amounts: ['1', '2'] }] };
    expect(formDecode(formEncode(v))).toEqual(v);
  });
});

describe('http.query defaults', () => {
  it('are sent on every request, replaced by a request parameter of the same name, dropped by one rendering null', async () => {
    const { server, client } = await setup(() => ({ json: {} }), { query: { minorversion: 75, region: '{{ settings.region }}' } });
    await client.request({ path: '/v3/company/1/invoice/9' });
    await client.request({ path: '/v3/company/1/query', query: { query: 'select * from Invoice', minorversion: '70' } });
    await client.request({ path: '/x', query: { region: null } });
    const [a, b, c] = server.requests;
    expect(a!.url).toBe('/v3/company/1/invoice/9?minorversion=75&region=eu');
    expect([...b!.query]).toEqual([['region', 'eu'], ['query', 'select * from Invoice'], ['minorversion', '70']]);
    expect([...c!.query]).toEqual([['minorversion', '75']]);
  });
});
