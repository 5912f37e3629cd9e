import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errorMessage, isTaxbridgeError } from '../errors.ts';
import { createHttpClient } from '../http/index.ts';
import { checkSpecFile, hasErrors, parseSource, specTestValidator, validateAgainstSchema, formatText, type ConnectionContext, type ConnectorSpec, type Diagnostic } from '../spec/index.ts';
import { compileRouter } from '../webhooks/route.ts';
import { compiledWebhooks, connectionTenant, splitDelivery, tenantOf } from '../webhooks/receive.ts';
import { executeWriteback } from '../writeback/execute.ts';
import { writebackConnection, type WritebackTax } from '../writeback/plan.ts';
import { diffSubset, diffValues } from './diff.ts';
import { ReplayServer, type RecordedResponse } from './replay-server.ts';
import { runStreamCase } from './stream-case.ts';
import { diffWireBody } from './wire.ts';
import { parseWebhookBody } from '../webhooks/body.ts';
import { formEncode } from '../http/body.ts';

/** One spec test file (connectors/<name>.test.yaml); see schemas/spec-test.schema.json. */
export interface SpecTestFile {
  connector: string;
  environment?: 'production' | 'sandbox';
  credentials?: Record<string, string>;
  settings?: Record<string, unknown>;
  /** connection.activated_at of the test connection (default 2000-01-01T00:00:00.000Z). */
  activated_at?: string;
  tests: SpecTestCase[];
}

export interface SpecTestCase {
  name: string;
  stream?: string;
  full?: boolean;
  cursor?: string;
  responses?: RecordedResponse[];
  webhook?: {
    headers?: Record<string, string>;
    body?: unknown;
    form?: Record<string, unknown>;
    raw?: string;
    method?: string;
    path?: string;
    query?: Record<string, string>;
    app_secret?: string;
    sign?: boolean;
    sign_with?: string;
    tamper?: boolean;
    age_seconds?: number;
  };
  writeback?: { kind: 'invoice' | 'credit_note'; raw?: unknown; document?: Record<string, unknown>; stream?: string; tax: WritebackTax; now?: string };
  expect?: Record<string, unknown>;
}

export interface CaseResult {
  name: string;
  ok: boolean;
  /** Readable reasons: diff lines or an error. */
  problems: string[];
  duration_ms: number;
}

export interface FileResult {
  file: string;
  connector?: string;
  diagnostics: Diagnostic[];
  cases: CaseResult[];
}

export async function runSpecTestFile(file: string): Promise<FileResult> {
  const src = parseSource(file, readFileSync(file, 'utf8'));
  const diagnostics = src.diagnostics.length ? src.diagnostics : validateAgainstSchema(src, specTestValidator());
  if (hasErrors(diagnostics)) return { file, diagnostics, cases: [] };
  const doc = src.value as SpecTestFile;
  const specPath = resolve(dirname(file), doc.connector);
  const checked = checkSpecFile(specPath);
  if (!checked.spec) return { file, connector: specPath, diagnostics: checked.diagnostics, cases: [] };
  const cases: CaseResult[] = [];
  for (const [i, c] of doc.tests.entries()) cases.push(await runCase(checked.spec, doc, c, `${file}#${i}`));
  return { file, connector: specPath, diagnostics: [], cases };
}

/** The bearer token requests of OAuth specs carry in spec tests (`Authorization: Bearer spectest-access-token`). */
export const SPECTEST_ACCESS_TOKEN = 'spectest-access-token';

async function runCase(spec: ConnectorSpec, doc: SpecTestFile, c: SpecTestCase, id: string): Promise<CaseResult> {
  const started = performance.now();
  const problems: string[] = [];
  const server = new ReplayServer(c.responses ?? [], Boolean(c.writeback));
  await server.start();
  const conn: ConnectionContext = {
    connection_id: `spectest:${id}`,
    environment: doc.environment ?? 'production',
    base_url: server.url,
    credentials: doc.credentials ?? {},
    settings: doc.settings ?? {},
    activated_at: doc.activated_at ?? '2000-01-01T00:00:00.000Z',
    // OAuth (authorization code) specs: recorded responses need no consent; requests carry a fixed test token.
    ...(spec.auth.type === 'oauth2_authorization_code' ? { tokens: { accessToken: async () => SPECTEST_ACCESS_TOKEN, rejected() {} } } : {}),
  };
  try {
    if (c.stream) problems.push(...(await runStreamCase(spec, conn, c, server)));
    else if (c.webhook) problems.push(...(await webhookCase(spec, conn, c)));
    else if (c.writeback) problems.push(...(await writebackCase(spec, conn, c, server)));
    else problems.push('the case has none of stream, webhook or writeback');
    if (c.expect?.requests) problems.push(...compareRequests(c.expect.requests as Array<Record<string, unknown>>, server));
  } catch (e) {
    problems.push(describeError(e));
  } finally {
    await server.close();
  }
  for (const r of server.seen.filter((s) => s.unmatched)) problems.push(`unrecorded request: ${r.method} ${r.path}${Object.keys(r.query).length ? `?${new URLSearchParams(r.query)}` : ''}`);
  return { name: c.name, ok: problems.length === 0, problems, duration_ms: Math.round(performance.now() - started) };
}

export function describeError(e: unknown): string {
  return isTaxbridgeError(e) ? `${e.code}: ${e.message}` : errorMessage(e);
}

const WIRE_FIELDS = ['body', 'form', 'raw_body'] as const;

function compareRequests(expected: Array<Record<string, unknown>>, server: ReplayServer): string[] {
  const seen = server.seen;
  const out: string[] = [];
  if (seen.length !== expected.length) out.push(`requests: expected ${expected.length}, the replay server saw ${seen.length} (${server.seen.map((r) => `${r.method} ${r.path}`).join(', ') || 'none'})`);
  expected.forEach((e, i) => {
    const s = seen[i];
    if (!s) return;
    const { body, form, raw_body, ...rest } = e;
    out.push(...diffSubset(rest, s as unknown as Record<string, unknown>, `requests[${i}]`));
    const wire = { body, form, raw_body };
    for (const f of WIRE_FIELDS) if (f in e) out.push(...diffWireBody(f, wire[f], s, `requests[${i}]`));
  });
  return out;
}

async function webhookCase(spec: ConnectorSpec, conn: ConnectionContext, c: SpecTestCase): Promise<string[]> {
  const wh = spec.webhooks;
  if (!wh) return [`${spec.name} declares no webhooks`];
  const w = c.webhook!;
  const expect = c.expect ?? {};
  let raw = w.raw ?? (w.form !== undefined ? formEncode(w.form) : JSON.stringify(w.body ?? {}));
  const headers: Record<string, string> = Object.fromEntries(Object.entries(w.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const query = new URLSearchParams(Object.entries(w.query ?? {}).map(([k, v]) => [k, String(v)]));
  const method = w.method ?? 'POST';
  const auth = compiledWebhooks(wh).auth;
  // A shared URL is verified with the deployment's app secret, not the connection's credentials.
  const secretCtx = wh.url === 'per_connector' ? { credentials: {}, settings: {}, environment: conn.environment, app: { webhook_secret: w.app_secret ?? '' } } : conn;
  const secrets = await auth.secrets(secretCtx);
  const path = w.path ?? (wh.url === 'per_connector' ? `/webhooks/connectors/${spec.name}` : '/webhooks/whk_test');
  const urlOf = () => `${TEST_PUBLIC_URL}${path}${query.size ? `?${query.toString()}` : ''}`;
  if (w.sign) {
    const using = w.sign_with !== undefined ? signingOverride(auth.type, w.sign_with) : secrets;
    if (auth.type !== 'none' && !Object.values(using).some((v) => v.length)) return ['the test file gives no webhook secret to sign with (credentials, or app_secret for a per_connector URL)'];
    // hmac over the URL the delivery will have once the signing query (if any) is added: tokens go in the query, signatures in headers.
    const signed = await auth.sign(using, raw, { method, url: urlOf(), headers, timestampMs: Date.now() - (w.age_seconds ?? 0) * 1000 });
    Object.assign(headers, signed.headers);
    for (const [k, v] of Object.entries(signed.query)) query.set(k, v);
  }
  if (w.tamper) raw = raw.replace(/\d/, (d) => String((Number(d) + 1) % 10)) + (/\d/.test(raw) ? '' : ' ');
  const actual: Record<string, unknown> = {};
  try {
    await auth.verify({ headers, rawBody: Buffer.from(raw), method, url: urlOf(), query }, secrets, Date.now());
    actual.verified = true;
  } catch (e) {
    actual.verified = false;
    actual.error = isTaxbridgeError(e) ? e.code : errorMessage(e);
  }
  if (actual.verified) {
    let split: Awaited<ReturnType<typeof splitDelivery>>;
    try {
      split = await splitDelivery(wh, headers, parseWebhookBody(raw, wh), raw);
    } catch (e) {
      actual.error = isTaxbridgeError(e) ? e.code : errorMessage(e);
      split = [];
    }
    const own = connectionTenant(wh, conn.settings);
    const events: Record<string, unknown>[] = [];
    for (const ev of split) {
      const routed = await compileRouter(wh).route(ev.routable);
      const one: Record<string, unknown> = { event_type: routed.event_type, event_id: routed.event_id, action: routed.action, id: routed.id, payment_status: routed.payment_status, writeback: routed.writeback };
      if (wh.tenant) {
        const tenant = await tenantOf(compiledWebhooks(wh), ev.routable);
        one.tenant = tenant ?? null;
        // Routed: the test connection's own tenant setting names it; anything else is acknowledged and applied to nothing.
        one.routed = tenant !== undefined && own !== undefined && tenant === own;
      }
      if (routed.action === 'upsert' && routed.stream && ('mapped' in expect || expect.events)) {
        const { mapRecordForTest } = await import('./stream-case.ts');
        one.mapped = await mapRecordForTest(spec, routed.stream, routed.record, conn);
      }
      events.push(one);
    }
    if (wh.for_each) actual.events = events;
    else if (events[0]) Object.assign(actual, events[0]);
  }
  const out: string[] = [];
  for (const [k, v] of Object.entries(expect)) {
    if (k === 'requests') continue;
    if (k === 'events' && Array.isArray(v) && Array.isArray(actual.events)) {
      if (v.length !== actual.events.length) out.push(`events: expected ${v.length}, got ${actual.events.length}`);
      v.forEach((e, i) => {
        const a = (actual.events as Record<string, unknown>[])[i] ?? {};
        for (const [ek, ev] of Object.entries(e as Record<string, unknown>)) out.push(...diffValues(ev, a[ek], `events[${i}].${ek}`));
      });
      continue;
    }
    out.push(...diffValues(v, actual[k], k));
  }
  return out;
}

/** The public URL webhook cases are delivered at (what signed_content `url` sees). */
const TEST_PUBLIC_URL = 'https://taxbridge.test';

/** `sign_with` as the secrets of the authentication kind: basic takes "user:password". */
function signingOverride(type: string, value: string): Record<string, string[]> {
  if (type === 'basic') {
    const i = value.indexOf(':');
    return { username: [i < 0 ? value : value.slice(0, i)], password: [i < 0 ? '' : value.slice(i + 1)] };
  }
  return type === 'token' ? { value: [value] } : { secret: [value] };
}

async function writebackCase(spec: ConnectorSpec, conn: ConnectionContext, c: SpecTestCase, server: ReplayServer): Promise<string[]> {
  const w = c.writeback!;
  let document = w.document;
  if (!document) {
    const stream = w.stream ?? spec.writeback?.[w.kind]?.stream;
    if (!stream || w.raw === undefined) return ['a write-back case needs `document`, or `raw` and a stream to map it'];
    const { mapRecordForTest } = await import('./stream-case.ts');
    document = (await mapRecordForTest(spec, stream, w.raw, conn)) as Record<string, unknown>;
  }
  const expect = c.expect ?? {};
  // The same sequence the job runner sends: read first (recorded response), writes, conflict retries.
  const http = createHttpClient(spec, conn);
  let done: Awaited<ReturnType<typeof executeWriteback>>;
  try {
    done = await executeWriteback(
      spec,
      w.kind,
      { document, raw: w.raw ?? {}, tax: w.tax, now: w.now ?? '2026-01-01T00:00:00.000Z', credentials: conn.credentials, settings: conn.settings, environment: conn.environment, connection: writebackConnection(conn) },
      (request, context) => http.request(request, context),
    );
  } catch (e) {
    if (typeof expect.error !== 'string') throw e;
    const code = isTaxbridgeError(e) ? e.code : errorMessage(e);
    return code === expect.error ? [] : [`error: expected ${expect.error}, got ${describeError(e)}`];
  } finally {
    await http.close();
  }
  if (typeof expect.error === 'string') return [`expected the write-back to fail with ${expect.error}, but it ${'skip' in done ? `was skipped (${done.skip})` : `sent ${done.sent.length} request(s)`}`];
  if ('skip' in done) {
    if (typeof expect.skip === 'string') return done.skip.includes(expect.skip) ? [] : [`skip: expected a reason containing ${JSON.stringify(expect.skip)}, got ${JSON.stringify(done.skip)}`];
    return [`write-back was skipped: ${done.skip}`];
  }
  if (typeof expect.skip === 'string') return [`expected the write-back to be skipped (${expect.skip}), but it sent ${done.sent.length} request(s)`];
  return server.seen.length ? [] : ['no request reached the replay server'];
}

export function formatFileResult(r: FileResult): string {
  const lines: string[] = [];
  if (r.diagnostics.length) {
    lines.push(`✗ ${r.file}: cannot run`);
    for (const d of r.diagnostics) lines.push(`  ${formatText(d)}`);
    return lines.join('\n');
  }
  for (const c of r.cases) {
    lines.push(`${c.ok ? '✓' : '✗'} ${r.file} › ${c.name} (${c.duration_ms} ms)`);
    for (const p of c.problems) lines.push(`    ${p}`);
  }
  return lines.join('\n');
}
