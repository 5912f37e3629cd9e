/**
 * Idempotency keys over a real socket against an endpoint that behaves like Stripe's v1 idempotency: the
 * first response of a key is stored and replayed for the same key (without applying anything), the same key
 * with other parameters is an error. Tax going A -> B -> A must write A again, retries must reuse their key.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient } from '../src/http/index.ts';
import type { RequestSpec } from '../src/spec/types.ts';
import { startLocalServer, type LocalServer } from './fixtures/sync/local-server.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

let server: LocalServer | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

/** The invoice line's tax as the system holds it, and the keys it stored. */
async function idempotentSystem(opts: { failFirst?: boolean } = {}) {
  const state = { tax: undefined as string | undefined, applied: 0, replayed: 0 };
  const keys = new Map<string, { body: string; response: unknown }>();
  let failed = false;
  server = await startLocalServer((req) => {
    if (opts.failFirst && !failed) {
      // Refused before execution starts (a gateway 503): nothing is stored under the key.
      failed = true;
      return { status: 503, json: { error: { type: 'api_error', message: 'try again' } } };
    }
    const key = String(req.headers['idempotency-key'] ?? '');
    const stored = keys.get(key);
    if (stored && stored.body !== req.body) return { status: 400, json: { error: { type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters they were first used with.' } } };
    if (stored) {
      state.replayed++;
      return { json: stored.response, headers: { 'idempotent-replayed': 'true' } };
    }
    state.tax = new URLSearchParams(req.body).get('tax_amounts[0][amount]') ?? undefined;
    state.applied++;
    const response = { id: 'il_1', tax: state.tax };
    keys.set(key, { body: req.body, response });
    return { json: response };
  });
  client = createHttpClient(testSpec({ http: { body_encoding: 'form', retry: { initial_delay_ms: 1, max_delay_ms: 5 } } }), testConn(server.url));
  return { state, keys, server, client };
}

function write(idempotency_key: RequestSpec['idempotency_key']): RequestSpec {
  return { method: 'POST', path: '/v1/invoices/in_1/lines/il_1', idempotency_key, body: { tax_amounts: [{ amount: '{{ amount }}' }] } };
}

const A = '825';
const B = '600';

describe('idempotency keys derived from the content', () => {
  it('method+path+body alone (no scope): the second A inside the window is a replay and B stays on the invoice', async () => {
    const { state, client } = await idempotentSystem();
    const req = write(true);
    for (const amount of [A, B, A]) await client.request(req, { amount });
    expect(state).toMatchObject({ tax: B, applied: 2, replayed: 1 });
  });

  it('vary_by the document version: A -> B -> A writes A again, with three different keys', async () => {
    const { state, server, client } = await idempotentSystem();
    const req = write({ vary_by: '{{ document.updated_at }}' });
    const versions = ['2026-03-01T10:00:00Z', '2026-03-01T11:00:00Z', '2026-03-01T12:00:00Z'];
    for (const [i, amount] of [A, B, A].entries()) await client.request(req, { amount, document: { updated_at: versions[i] } });
    expect(state).toMatchObject({ tax: A, applied: 3, replayed: 0 });
    const sent = server.requests.map((r) => r.headers['idempotency-key']);
    expect(new Set(sent).size).toBe(3);
    expect(sent.every((k) => typeof k === 'string' && /^tb_[0-9a-f]{48}$/.test(k))).toBe(true);
  });

  it('true with the write-back scope (job + stored document version): A -> B -> A writes A again', async () => {
    const { state, client } = await idempotentSystem();
    const req = write(true);
    const scopes = ['wb_a@2026-03-01T10:00:00Z', 'wb_b@2026-03-01T11:00:00Z', 'wb_a@2026-03-01T12:00:00Z'];
    for (const [i, amount] of [A, B, A].entries()) await client.request(req, { amount }, { idempotencyScope: scopes[i] });
    expect(state).toMatchObject({ tax: A, applied: 3, replayed: 0 });
  });

  it('a retry of one write reuses its key, and the same write sent again in its scope is a replay (not a second write)', async () => {
    const { state, server, client } = await idempotentSystem({ failFirst: true });
    const req = write({ vary_by: '{{ document.updated_at }}' });
    const ctx = { amount: A, document: { updated_at: '2026-03-01T10:00:00Z' } };
    const first = await client.request(req, ctx, { idempotencyScope: 'wb_a@1' });
    expect(first.attempts).toBe(2);
    // The job's next attempt (after a crash before it recorded success) sends the same request again.
    const again = await client.request(req, ctx, { idempotencyScope: 'wb_a@1' });
    expect(again.headers['idempotent-replayed']).toBe('true');
    const sent = server.requests.map((r) => r.headers['idempotency-key']);
    expect(sent).toHaveLength(3);
    expect(new Set(sent).size).toBe(1);
    expect(state).toMatchObject({ tax: A, applied: 1, replayed: 1 });
  });

  it('a key that derives from the scope and content is the same across clients (a restarted process)', async () => {
    const { server, client: first } = await idempotentSystem();
    const req = write({ vary_by: '{{ document.updated_at }}' });
    const ctx = { amount: A, document: { updated_at: 'v1' } };
    await first.request(req, ctx, { idempotencyScope: 's' });
    const second = createHttpClient(testSpec({ http: { body_encoding: 'form' } }), testConn(server.url));
    try {
      await second.request(req, ctx, { idempotencyScope: 's' });
    } finally {
      await second.close();
    }
    expect(server.requests[0]!.headers['idempotency-key']).toBe(server.requests[1]!.headers['idempotency-key']);
  });
});
