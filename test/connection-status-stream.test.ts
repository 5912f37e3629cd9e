/**
 * GET /admin/connections/{id}/status/stream over real sockets: `taxbridge serve` in process, the fake Rillet
 * (small pages, some latency, so a backfill takes a few seconds). Status events arrive while the backfill
 * runs, with counts growing, until it succeeded; 401 without the token or with a forged session; heartbeats;
 * at most 4 streams per console session (429 after); a sign-out ends that session's streams at once.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/index.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { adminClient, inProcessConfig, startTestServer, until } from './helpers/e2e.ts';

const ROOT = join(import.meta.dirname, '..');
const TOKEN = `t_${randomBytes(16).toString('hex')}`;
const admin = adminClient(() => server.url, TOKEN);
let server: RunningServer;
let ril: FakeRillet;
let dir: string;
let org: string;
/** The streams' own connections, closed before the server so its shutdown waits for none of them. */
const agent = new Agent();

interface SseEvent {
  event: string;
  data?: any;
}

/** An open event stream: the events so far, comment lines counted, and whether it ended. */
async function openStream(path: string, headers: Record<string, string>) {
  const ac = new AbortController();
  const res = await request(server.url + path, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal, dispatcher: agent });
  const s = { status: res.statusCode, type: String(res.headers['content-type']), events: [] as SseEvent[], comments: 0, ended: false, json: undefined as any, close: () => ac.abort() };
  if (res.statusCode !== 200) {
    s.json = JSON.parse(await res.body.text());
    return s;
  }
  void (async () => {
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += chunk.toString();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith(':')) s.comments++;
          const ev: SseEvent = { event: 'message' };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
          }
          if (ev.data !== undefined) s.events.push(ev);
        }
      }
    } catch {
      // aborted by the test
    }
    s.ended = true;
  })();
  return s;
}

async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const res = await request(`${server.url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
  const json = JSON.parse(await res.body.text());
  return { cookie: String(res.headers['set-cookie']).split(';')[0]!, csrf: json.data.csrf_token };
}

beforeAll(async () => {
  ril = await startFakeRillet({ seed: 9, counts: { customers: 20, products: 5, invoices: 60, creditNotes: 0 }, latencyMs: 120 });
  dir = mkdtempSync(join(tmpdir(), 'tb-stream-'));
  // The shipped Rillet spec with pages of 5, so the backfill commits many pages.
  const specs = join(dir, 'connectors');
  mkdirSync(specs);
  const spec = readFileSync(join(ROOT, 'connectors', 'rillet.yaml'), 'utf8');
  if (!spec.includes('page_size: { param: limit, value: 100 }')) throw new Error('rillet.yaml page size moved');
  writeFileSync(join(specs, 'rillet.yaml'), spec.replace('page_size: { param: limit, value: 100 }', 'page_size: { param: limit, value: 5 }').replace(/rate_limit: \{ requests: \d+, per_seconds: \d+ \}/, 'rate_limit: { requests: 100000, per_seconds: 60 }'));
  server = await startTestServer(inProcessConfig({ dataDir: join(dir, 'data'), connectors: specs, env: { TAXBRIDGE_ADMIN_TOKEN: TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }), { consoleDir: dir, eventStreams: { heartbeatMs: 300 } });
  org = (await admin('POST', '/admin/organizations', { name: 'Stream Co', mode: 'test', origin_address: { country: 'US', state: 'TX', postal_code: '78701', city: 'Austin' } })).json.data.id;
}, 60_000);

afterAll(async () => {
  await agent.destroy();
  await server?.close();
  await ril?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the connection status stream', () => {
  let connId = '';

  it('sends status events as the backfill progresses, until it succeeded', async () => {
    const r1 = await admin('POST', '/admin/connections', { connector: 'rillet', organization_id: org, credentials: { api_key: ril.apiKey }, base_url: ril.url });
    connId = r1.json.data.connection.id;
    const s = await openStream(`/admin/connections/${connId}/status/stream`, { authorization: `Bearer ${TOKEN}` });
    expect(s.status).toBe(200);
    expect(s.type).toMatch(/^text\/event-stream/);
    await until(() => (s.events.length >= 1 ? true : undefined), 'the first status event', 5000);
    expect(s.events[0]).toMatchObject({ event: 'status', data: { id: connId, status: 'pending' } });
    const usd = [...ril.data.subsidiaries.values()].find((x) => x.currency === 'USD')!;
    await admin('PATCH', `/admin/connections/${connId}`, { settings: { subsidiary_id: usd.id }, credentials: { signing_token: ril.signingToken } });
    await until(() => (s.events.some((e) => e.data?.backfill?.status === 'succeeded') ? true : undefined), 'the backfill to succeed in the stream', 30_000);
    s.close();
    const statuses = s.events.filter((e) => e.event === 'status').map((e) => e.data);
    const invoices = statuses.map((d) => d.sync?.invoices?.counts?.active ?? 0);
    const customers = statuses.map((d) => d.sync?.customers?.counts?.active ?? 0);
    // Counts only grow, and the stream showed some between nothing and everything.
    for (let i = 1; i < invoices.length; i++) {
      expect(invoices[i]).toBeGreaterThanOrEqual(invoices[i - 1]!);
      expect(customers[i]).toBeGreaterThanOrEqual(customers[i - 1]!);
    }
    const finalInvoices = invoices.at(-1)!;
    expect(finalInvoices).toBe([...ril.data.invoices.values()].filter((i) => i.subsidiary_id === usd.id).length);
    const between = statuses.filter((d) => d.backfill?.status === 'running');
    expect(between.length, JSON.stringify(invoices)).toBeGreaterThanOrEqual(2);
    // No event repeats the one before it.
    for (let i = 1; i < statuses.length; i++) expect(JSON.stringify(statuses[i])).not.toBe(JSON.stringify(statuses[i - 1]));
    expect(s.comments).toBeGreaterThanOrEqual(1);
  });

  it('is refused without the admin token or a live session, and for an unknown connection', async () => {
    const none = await openStream(`/admin/connections/${connId}/status/stream`, {});
    expect(none.status).toBe(401);
    const forged = await openStream(`/admin/connections/${connId}/status/stream`, { cookie: `tb_console=${'A'.repeat(43)}` });
    expect(forged.status).toBe(401);
    const wrong = await openStream(`/admin/connections/${connId}/status/stream`, { authorization: 'Bearer not-the-token-000000' });
    expect(wrong.status).toBe(401);
    // HEAD answers the headers and holds nothing open.
    const head = await request(`${server.url}/admin/connections/${connId}/status/stream`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` }, dispatcher: agent });
    await head.body.text();
    expect([head.statusCode, String(head.headers['content-type'])]).toEqual([200, 'text/event-stream; charset=utf-8']);
    const unknown = await openStream('/admin/connections/conn_nope/status/stream', { authorization: `Bearer ${TOKEN}` });
    expect(unknown.status).toBe(404);
  });

  it('keeps at most 4 streams per console session, sends heartbeats, and ends them all at sign-out', async () => {
    const me = await signIn();
    const other = await signIn();
    const mine: Array<Awaited<ReturnType<typeof openStream>>> = [];
    for (let i = 0; i < 4; i++) mine.push(await openStream(`/admin/connections/${connId}/status/stream`, { cookie: me.cookie }));
    expect(mine.map((s) => s.status)).toEqual([200, 200, 200, 200]);
    const fifth = await openStream(`/admin/connections/${connId}/status/stream`, { cookie: me.cookie });
    expect(fifth.status).toBe(429);
    expect(fifth.json.code).toBe('too_many_streams');
    const theirs = await openStream(`/admin/connections/${connId}/status/stream`, { cookie: other.cookie });
    expect(theirs.status).toBe(200);
    await until(() => (mine.every((s) => s.comments >= 1) ? true : undefined), 'heartbeats', 5000);

    const out = await request(`${server.url}/console/session`, { method: 'DELETE', headers: { cookie: me.cookie, 'x-csrf-token': me.csrf } });
    await out.body.text();
    expect(out.statusCode).toBe(204);
    await until(() => (mine.every((s) => s.ended) ? true : undefined), 'the signed-out session\'s streams to end', 5000);
    for (const s of mine) expect(s.events.at(-1)?.event).toBe('signed_out');
    // The other session's stream goes on.
    expect(theirs.ended).toBe(false);
    const heard = theirs.comments;
    await until(() => (theirs.comments > heard ? true : undefined), 'a heartbeat on the other stream', 5000);
    theirs.close();
    await until(() => (theirs.ended ? true : undefined), 'the closed stream', 5000);
  });
});
