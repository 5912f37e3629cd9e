import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient } from '../src/http/index.ts';
import { startLocalServer, type Handler, type LocalServer } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';
import type { AuthSpec, HttpSpec } from '../src/spec/types.ts';

let server: LocalServer | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

async function setup(handler: Handler, over: { http?: HttpSpec; auth?: AuthSpec } = {}, clientOpts: Parameters<typeof createHttpClient>[2] = {}) {
  server = await startLocalServer(handler);
  client = createHttpClient(testSpec(over), testConn(server.url), clientOpts);
  return { server, client };
}

describe('request rendering', () => {
  it('renders path (URL-encoded expressions), query (nulls dropped), headers and JSON body from the context', async () => {
    const { server, client } = await setup(() => ({ json: { ok: true } }), { http: { headers: { 'X-Version': '4', 'X-Region': '{{ settings.region }}' } } });
    const res = await client.request(
      {
        method: 'POST',
        path: '/things/{{ id }}/sub',
        query: { a: '{{ id }}', gone: '{{ missing }}', nul: null, many: ['x', 'y'], n: 5 },
        headers: { 'X-Env': '{{ environment }}' },
        body: { name: '{{ name }}', qty: '{{ qty }}', nested: { keep: 'literal {{ name }}' } },
        idempotency_key: '{{ "k-" & id }}',
      },
      { id: 'a/b c', name: 'Widget', qty: 3 },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
    const seen = server.requests[0]!;
    expect(seen.path).toBe('/things/a%2Fb%20c/sub');
    expect(seen.query.get('a')).toBe('a/b c');
    expect(seen.query.has('gone')).toBe(false);
    expect(seen.query.has('nul')).toBe(false);
    expect(seen.query.getAll('many')).toEqual(['x', 'y']);
    expect(seen.query.get('n')).toBe('5');
    expect(seen.headers['x-version']).toBe('4');
    expect(seen.headers['x-region']).toBe('eu');
    expect(seen.headers['x-env']).toBe('production');
    expect(seen.headers['idempotency-key']).toBe('k-a/b c');
    expect(seen.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen.body)).toEqual({ name: 'Widget', qty: 3, nested: { keep: 'literal Widget' } });
  });

  it('returns text bodies as text and reuses keep-alive connections', async () => {
    const { server, client } = await setup(() => ({ text: 'plain', headers: { 'content-type': 'text/plain' } }));
    for (let i = 0; i < 30; i++) expect((await client.request({ path: '/t' })).body).toBe('plain');
    // undici may open a second socket while the first is being released; never one per request.
    expect(server.connections).toBeLessThanOrEqual(2);
  });
});

describe('authentication', () => {
  it('basic', async () => {
    const { server, client } = await setup(() => ({ json: {} }), { auth: { type: 'basic', username: '{{ credentials.client_id }}', password: '{{ credentials.client_secret }}' } });
    await client.request({ path: '/x' });
    expect(server.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('cid:csecret_XYZ').toString('base64')}`);
  });

  it('bearer', async () => {
    const { server, client } = await setup(() => ({ json: {} }));
    await client.request({ path: '/x' });
    expect(server.requests[0]!.headers.authorization).toBe('Bearer sk_live_SECRET123');
  });

  it('api_key in a header and in the query (never shown in the response URL)', async () => {
    const { server, client: first } = await setup(() => ({ json: {} }), { auth: { type: "api_key", in: "header", name: "X-API-KEY", value: "{{ credentials.api_key }}" } });
    await first.request({ path: '/x' });
    expect(server.requests[0]!.headers['x-api-key']).toBe('sk_live_SECRET123');
    await first.close();
    client = createHttpClient(testSpec({ auth: { type: 'api_key', in: 'query', name: 'key', value: '{{ credentials.api_key }}' } }), testConn(server.url));
    const res = await client!.request({ path: '/y', query: { a: 1 } });
    expect(server.requests[1]!.query.get('key')).toBe('sk_live_SECRET123');
    expect(res.url).not.toContain('SECRET');
  });

  it('oauth2 client credentials: token cached, refreshed before expiry, re-fetched once on a 401', async () => {
    let tokens = 0;
    let now = 1_000_000;
    let revoke = false;
    const { server, client } = await setup(
      (req) => {
        if (req.path === '/oauth/token') {
          tokens++;
          return { json: { access_token: `tok${tokens}`, expires_in: 120, token_type: 'Bearer' } };
        }
        if (revoke && req.headers.authorization === 'Bearer tok2') return { status: 401, json: { error: 'expired' } };
        return { json: { auth: req.headers.authorization } };
      },
      { auth: { type: 'oauth2_client_credentials', token_url: '/oauth/token', client_id: '{{ credentials.client_id }}', client_secret: '{{ credentials.client_secret }}', scopes: ['read', 'write'], refresh_margin_seconds: 30 } },
      { now: () => now },
    );
    const [a, b] = await Promise.all([client.request({ path: '/x' }), client.request({ path: '/x' })]);
    expect(a.body).toEqual({ auth: 'Bearer tok1' });
    expect(b.body).toEqual({ auth: 'Bearer tok1' });
    expect(tokens).toBe(1);
    const tokenReq = server.requests.find((r) => r.path === '/oauth/token')!;
    expect(tokenReq.headers.authorization).toBe(`Basic ${Buffer.from('cid:csecret_XYZ').toString('base64')}`);
    expect(new URLSearchParams(tokenReq.body).get('grant_type')).toBe('client_credentials');
    expect(new URLSearchParams(tokenReq.body).get('scope')).toBe('read write');
    now += 89_000; // 31 s left: still outside the 30 s margin
    expect((await client.request({ path: '/x' })).body).toEqual({ auth: 'Bearer tok1' });
    now += 2_000; // 29 s left: refresh
    expect((await client.request({ path: '/x' })).body).toEqual({ auth: 'Bearer tok2' });
    revoke = true;
    expect((await client.request({ path: '/x' })).body).toEqual({ auth: 'Bearer tok3' });
    expect(tokens).toBe(3);
  });

  it('oauth2 token endpoint refusing the client is HTTP_BAD_CREDENTIALS', async () => {
    const { client } = await setup((req) => (req.path === '/token' ? { status: 401, json: { error: 'invalid_client' } } : { json: {} }), {
      auth: { type: 'oauth2_client_credentials', token_url: '/token', client_id: '{{ credentials.client_id }}', client_secret: '{{ credentials.client_secret }}', client_auth: 'body' },
    });
    await expect(client.request({ path: '/x' })).rejects.toMatchObject({ code: 'HTTP_BAD_CREDENTIALS' });
  });
});

describe('errors', () => {
  it('auth error statuses give HTTP_BAD_CREDENTIALS naming the connection, without secrets', async () => {
    const { client } = await setup(() => ({ status: 401, json: { error: { message: 'key sk_live_SECRET123 is not valid' } } }), { http: { error_message: 'error.message' } });
    const err = await client.request({ path: '/x' }).catch((e) => e);
    expect(err.code).toBe('HTTP_BAD_CREDENTIALS');
    expect(err.message).toContain(client.conn.connection_id);
    expect(err.message).toContain('Local');
    expect(err.message).toMatch(/must be replaced/);
    expect(err.message).not.toContain('SECRET123');
    expect(JSON.stringify(err.toJSON())).not.toContain('SECRET123');
    expect(err.hint).toContain('api_key');
  });

  it('other 4xx are HTTP_PERMANENT with the upstream message, not retried', async () => {
    const { server, client } = await setup(() => ({ status: 422, headers: { 'content-type': 'application/problem+json' }, json: { title: 'Invalid', detail: 'quantity must be positive' } }), {
      http: { error_message: '$join([title, detail], ": ")' },
    });
    const err = await client.request({ path: '/x' }).catch((e) => e);
    expect(err.code).toBe('HTTP_PERMANENT');
    expect(err.status).toBe(422);
    expect(err.message).toContain('Invalid: quantity must be positive');
    expect(server.requests).toHaveLength(1);
  });

  it('ok_statuses count as success', async () => {
    const { client } = await setup(() => ({ status: 404, json: { gone: true } }));
    expect((await client.request({ method: 'DELETE', path: '/x', ok_statuses: [404] })).status).toBe(404);
  });

  it('5xx retried with backoff until max_attempts, then HTTP_TRANSIENT with attempts and last status', async () => {
    const delays: number[] = [];
    const { server, client } = await setup(() => ({ status: 503, json: { error: { message: 'down' } } }), { http: { retry: { max_attempts: 4, initial_delay_ms: 100, max_delay_ms: 1000 } } }, {
      sleep: async (ms) => void delays.push(ms),
      random: () => 0.999,
    });
    const err = await client.request({ path: '/x' }).catch((e) => e);
    expect(err.code).toBe('HTTP_TRANSIENT');
    expect(err.attempts).toBe(4);
    expect(err.status).toBe(503);
    expect(err.message).toContain('4 attempts');
    expect(server.requests).toHaveLength(4);
    expect(delays).toEqual([99, 199, 399]);
  });

  it('honours Retry-After in seconds and as an HTTP date, capped by max_delay_ms', async () => {
    const delays: number[] = [];
    let now = Date.parse('2030-01-01T00:00:00Z');
    const start = now;
    let n = 0;
    const { client } = await setup(
      () => {
        n++;
        if (n === 1) return { status: 429, headers: { 'retry-after': '2' }, json: {} };
        if (n === 2) return { status: 429, headers: { 'retry-after': new Date(start + 2000 + 5000).toUTCString() }, json: {} };
        if (n === 3) return { status: 503, headers: { 'retry-after': '3600' }, json: {} };
        return { json: { done: true } };
      },
      { http: { retry: { initial_delay_ms: 10, max_delay_ms: 10_000 } } },
      {
        sleep: async (ms) => {
          delays.push(ms);
          now += ms;
        },
        now: () => now,
        random: () => 0,
      },
    );
    expect((await client.request({ path: '/x' })).body).toEqual({ done: true });
    expect(delays.filter((d) => d > 0)).toEqual([2000, 5000, 10_000]);
  });

  it('retries dropped connections for GET but not for a POST without an idempotency key', async () => {
    let n = 0;
    const { server, client } = await setup(() => (++n === 1 ? { destroy: true } : { json: { n } }));
    expect((await client.request({ path: '/x' })).body).toEqual({ n: 2 });
    n = 0;
    const err = await client.request({ method: 'POST', path: '/x', body: { a: 1 } }).catch((e) => e);
    expect(err.code).toBe('HTTP_TRANSIENT');
    expect(err.attempts).toBe(1);
    n = 0;
    const before = server.requests.length;
    expect((await client.request({ method: 'POST', path: '/x', body: { a: 1 }, idempotency_key: true })).body).toEqual({ n: 2 });
    const [first, second] = server.requests.slice(before);
    expect(first!.headers['idempotency-key']).toMatch(/^tb_[0-9a-f]{48}$/);
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
  });

  it('derived idempotency keys are stable for the same request and differ for another body', async () => {
    const { server, client } = await setup(() => ({ json: {} }));
    await client.request({ method: 'POST', path: '/x', body: { a: '{{ v }}' }, idempotency_key: true }, { v: 1 });
    await client.request({ method: 'POST', path: '/x', body: { a: '{{ v }}' }, idempotency_key: true }, { v: 1 });
    await client.request({ method: 'POST', path: '/x', body: { a: '{{ v }}' }, idempotency_key: true }, { v: 2 });
    const keys = server.requests.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
  });

  it('times out each attempt (timeout_ms) and reports HTTP_TIMEOUT after the retries', async () => {
    const { server, client } = await setup(() => ({ delayMs: 300, json: {} }), { http: { timeout_ms: 50, retry: { max_attempts: 2, initial_delay_ms: 1 } } });
    const started = Date.now();
    const err = await client.request({ path: '/slow' }).catch((e) => e);
    expect(err.code).toBe('HTTP_TIMEOUT');
    expect(err.message).toContain('50 ms');
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('consumes every error body: many failures through one connection slot do not hang', async () => {
    const { client } = await setup(() => ({ status: 400, json: { big: 'x'.repeat(100_000) } }), { http: { max_concurrency: 1 } });
    for (let i = 0; i < 20; i++) await expect(client.request({ path: '/x' })).rejects.toMatchObject({ code: 'HTTP_PERMANENT' });
  });

  it('a 2xx claiming JSON that does not parse is HTTP_INVALID_RESPONSE', async () => {
    const { client } = await setup(() => ({ text: '{"items": [', headers: { 'content-type': 'application/json' } }));
    await expect(client.request({ path: '/x' })).rejects.toMatchObject({ code: 'HTTP_INVALID_RESPONSE' });
  });
});
