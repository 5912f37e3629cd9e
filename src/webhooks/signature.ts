import { isUtf8 } from 'node:buffer';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { compileExpression, compileTemplate, renderTemplate, templateText, type Expression, type Template } from '../expressions/index.ts';
import type { ConnectionContext, SignatureFormatSpec, SignatureSpec } from '../spec/types.ts';
import { WebhookSignatureError } from './errors.ts';

/**
 * Webhook signatures as data. A scheme is: which header holds the signature(s) and how it is laid out
 * (plain / list with prefix / key=value pairs), the HMAC algorithm, how the secret becomes key bytes, what
 * content is signed (a template over timestamp, headers and the raw body) and where the timestamp is.
 * Verification is strict: no header, a malformed header, no configured secret or a stale timestamp is a
 * refusal, never "verification skipped". Comparisons are constant-time.
 */

export interface Delivery {
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  /** The HTTP method and the full URL as the sender called it (public URL + path + query), for signed_content. */
  method?: string;
  url?: string;
}

export interface CompiledSignature {
  verify(delivery: Delivery, secrets: string[], nowMs?: number): Promise<{ timestamp?: number }>;
  /** Headers that make `rawBody` verify under `secret` (fakes, spec tests, benchmarks). */
  sign(secret: string, rawBody: Buffer | string, headers?: Record<string, string>, timestampMs?: number, request?: { method?: string; url?: string }): Promise<Record<string, string>>;
}

/** Standard Webhooks (standardwebhooks.com): the built-in preset; spec fields override it. */
const STANDARD_WEBHOOKS: Omit<SignatureSpec, 'secret'> = {
  algorithm: 'sha256',
  key_encoding: 'whsec',
  header: 'webhook-signature',
  format: { type: 'list', separator: ' ', prefix: 'v1,' },
  encoding: 'base64',
  signed_content: '{{ headers."webhook-id" }}.{{ timestamp }}.{{ body }}',
  timestamp: { from: 'headers."webhook-timestamp"', unit: 'seconds', tolerance_seconds: 300 },
};

interface Resolved {
  algorithm: 'sha1' | 'sha256' | 'sha512';
  keyEncoding: 'utf8' | 'base64' | 'whsec';
  header: string;
  format: SignatureFormatSpec;
  encoding: 'hex' | 'base64';
  content: Template;
  /** keyBytes' cache: secret -> key bytes (never handed out beyond createHmac, which copies them). */
  keys: Map<string, Buffer>;
  /** Whether `content` may read `url` (anything but plain reads of the other members may). */
  readsUrl: boolean;
  /** `content` as pieces when it embeds `{{ body }}`: the body is then signed as the bytes received. */
  pieces?: ContentPieces;
  timestampFrom?: Expression;
  /** Header the timestamp is read from, when `from` is a plain `headers."name"` path (used by sign()). */
  timestampHeader?: string;
  unit: 'seconds' | 'milliseconds' | 'iso8601';
  toleranceMs: number;
  hasTimestamp: boolean;
}

export function compileSignature(spec: SignatureSpec): CompiledSignature {
  const s: SignatureSpec =
    spec.preset === 'standard_webhooks' ? ({ ...STANDARD_WEBHOOKS, ...stripUndefined(spec), timestamp: { ...STANDARD_WEBHOOKS.timestamp, ...spec.timestamp } } as SignatureSpec) : spec;
  if (!s.header || !s.signed_content) throw new WebhookSignatureError('WEBHOOK_SIGNATURE_MALFORMED', 'the connector spec does not say which header carries the signature or what is signed', 'set webhooks.signature.header and signed_content, or preset: standard_webhooks');
  const format = s.format ?? { type: 'plain' };
  const from = s.timestamp?.from;
  const r: Resolved = {
    algorithm: s.algorithm ?? 'sha256',
    keyEncoding: s.key_encoding ?? 'utf8',
    header: s.header.toLowerCase(),
    format,
    encoding: s.encoding ?? 'hex',
    content: compileTemplate(s.signed_content),
    pieces: undefined,
    readsUrl: true,
    keys: new Map(),
    timestampFrom: from ? compileExpression(from) : undefined,
    timestampHeader: from ? /^headers\.(?:"([^"]+)"|'([^']+)'|`([^`]+)`|([A-Za-z_][\w]*))$/.exec(from.trim())?.slice(1).find(Boolean)?.toLowerCase() : undefined,
    unit: s.timestamp?.unit ?? 'seconds',
    toleranceMs: (s.timestamp?.tolerance_seconds ?? 300) * 1000,
    hasTimestamp: Boolean(from || (format.type === 'key_value' && format.timestamp_key)),
  };
  r.pieces = contentPieces(r.content);
  r.readsUrl = templateExpressionsOf(r.content).some((e) => !(e.isPath && NOT_URL.test(e.source)));
  return {
    verify: (delivery, secrets, nowMs = Date.now()) => verify(r, delivery, secrets, nowMs),
    sign: (secret, rawBody, headers = {}, timestampMs = Date.now(), request = {}) => sign(r, secret, Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody), headers, timestampMs, request),
  };
}

/** The secrets a connection accepts (the `secret` template may give several, for rotation). */
export async function webhookSecrets(spec: SignatureSpec, conn: SecretContext): Promise<string[]> {
  return renderSecretList(spec.secret, conn);
}

/** What secret templates read: the connection's values, and `app` (the deployment's app-level webhook secret). */
export type SecretContext = Pick<ConnectionContext, 'credentials' | 'settings' | 'environment'> & { app?: { webhook_secret?: string | string[] } };

/** A secret template rendered to the non-empty strings it gives (an array result: several, for rotation). */
export async function renderSecretList(template: string, conn: SecretContext): Promise<string[]> {
  const ctx = { credentials: conn.credentials, settings: conn.settings, environment: conn.environment, app: conn.app ?? {} };
  const v = await renderTemplate(compileTemplate(template), ctx, ctx);
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is string => typeof x === 'string' && x.length > 0);
}

interface ParsedHeader {
  signatures: string[];
  timestamp?: string;
}

function parseHeader(r: Resolved, value: string): ParsedHeader {
  const f = r.format;
  if (f.type === 'plain') return { signatures: [value.trim()].filter(Boolean) };
  if (f.type === 'list') {
    const parts = value.split(f.separator).map((p) => p.trim()).filter(Boolean);
    const signatures = f.prefix ? parts.filter((p) => p.startsWith(f.prefix!)).map((p) => p.slice(f.prefix!.length)) : parts;
    return { signatures };
  }
  const signatures: string[] = [];
  let timestamp: string | undefined;
  for (const pair of value.split(f.pair_separator ?? ',')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const k = pair.slice(0, eq).trim();
    const v = pair.slice(eq + 1).trim();
    if (k === f.signature_key && v) signatures.push(v);
    else if (f.timestamp_key && k === f.timestamp_key) timestamp = v;
  }
  return { signatures, timestamp };
}

/** The delivery's timestamp as text; a promise only when reading it needs JSONata. */
function readTimestamp(r: Resolved, parsed: ParsedHeader, delivery: Delivery): string | undefined | Promise<string | undefined> {
  if (parsed.timestamp !== undefined) return parsed.timestamp;
  if (!r.timestampFrom) return undefined;
  const ctx = { headers: delivery.headers, body: r.timestampFrom.source.includes('body') ? safeJson(delivery.rawBody) : undefined };
  const fast = r.timestampFrom.readSync(ctx, ctx);
  return fast ? timestampText(fast.value) : r.timestampFrom.evaluate(ctx, ctx).then(timestampText);
}

function timestampText(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : String(v);
}

function timestampMs(r: Resolved, text: string): number {
  if (r.unit === 'iso8601') return Date.parse(text);
  if (!/^\d+(\.\d+)?$/.test(text)) return NaN;
  return r.unit === 'milliseconds' ? Number(text) : Number(text) * 1000;
}

async function verify(r: Resolved, delivery: Delivery, secrets: string[], nowMs: number): Promise<{ timestamp?: number }> {
  if (secrets.length === 0) throw new WebhookSignatureError('WEBHOOK_SECRET_MISSING', 'this connection has no webhook signing secret configured, so deliveries cannot be verified', 'add the signing secret to the connection');
  const headerValue = delivery.headers[r.header];
  if (!headerValue || !headerValue.trim()) throw new WebhookSignatureError('WEBHOOK_SIGNATURE_MISSING', `the ${r.header} header is missing`);
  const parsed = parseHeader(r, headerValue);
  if (parsed.signatures.length === 0) throw new WebhookSignatureError('WEBHOOK_SIGNATURE_MALFORMED', `the ${r.header} header holds no signature in the expected format`);
  const provided = parsed.signatures.map((s) => decodeSignature(r.encoding, s)).filter((b): b is Buffer => b !== undefined);
  if (provided.length === 0) throw new WebhookSignatureError('WEBHOOK_SIGNATURE_MALFORMED', `the ${r.header} header's signature is not valid ${r.encoding}`);

  let ts: number | undefined;
  let tsText: string | undefined;
  if (r.hasTimestamp) {
    const read = readTimestamp(r, parsed, delivery);
    tsText = read instanceof Promise ? await read : read;
    if (tsText === undefined || tsText === '') throw new WebhookSignatureError('WEBHOOK_SIGNATURE_MALFORMED', 'the delivery has no timestamp');
    ts = timestampMs(r, tsText);
    if (!Number.isFinite(ts)) throw new WebhookSignatureError('WEBHOOK_SIGNATURE_MALFORMED', `the delivery timestamp is not a valid ${r.unit} value`);
    if (Math.abs(nowMs - ts) > r.toleranceMs) throw new WebhookSignatureError('WEBHOOK_TIMESTAMP_STALE', `the delivery timestamp is more than ${r.toleranceMs / 1000} s from now; replays are refused`, 'check the sender\'s clock, or resend the event');
  }

  const signed = signedContent(r, delivery, tsText);
  const content = Array.isArray(signed) ? signed : await signed;
  for (const secret of secrets) {
    const expected = hmac(r, secret, content);
    for (const p of provided) if (p.length === expected.length && timingSafeEqual(p, expected)) return { timestamp: ts };
  }
  throw new WebhookSignatureError('WEBHOOK_SIGNATURE_INVALID', `no signature in the ${r.header} header matches the delivery`, 'check the connection\'s signing secret (it may have been regenerated)');
}

/** Where the raw body goes in the signed content. */
const RAW_BODY: unique symbol = Symbol('raw body');

/** A path into a member of the signed-content context other than the URL. */
const NOT_URL = /^\s*(?:headers|timestamp|id|method|body)\s*(?:\.|$)/;

/** The expressions a compiled template evaluates. */
function templateExpressionsOf(t: Template): Expression[] {
  switch (t.kind) {
    case 'literal':
      return [];
    case 'expression':
      return [t.expr];
    case 'concat':
      return t.parts.filter((p): p is Expression => typeof p !== 'string');
    case 'object':
      return t.entries.flatMap(([, v]) => templateExpressionsOf(v));
    case 'array':
      return t.items.flatMap(templateExpressionsOf);
  }
}

/** A path into one of the other members of the signed-content context (never the body). */
const NOT_BODY = /^\s*(?:headers|timestamp|id|method|url)\s*(?:\.|$)/;

interface ContentPieces {
  parts: Array<string | Expression | typeof RAW_BODY>;
  /** Whether a part other than `{{ body }}` may read the body (it then gets the body's text, as before). */
  othersReadBody: boolean;
}

/**
 * A signed-content template that embeds `{{ body }}` as pieces: signing the body's bytes as received is
 * the same as decoding them and encoding the text again (what rendering the template does) whenever they
 * are valid UTF-8, and saves both copies. Other bodies take the rendering path.
 */
function contentPieces(t: Template): ContentPieces | undefined {
  const isBody = (e: string | Expression): boolean => typeof e !== 'string' && e.isPath && e.source.trim() === 'body';
  const parts = t.kind === 'expression' ? [t.expr] : t.kind === 'concat' ? t.parts : undefined;
  if (!parts || !parts.some(isBody)) return undefined;
  return {
    parts: parts.map((p) => (isBody(p) ? RAW_BODY : p)),
    othersReadBody: parts.some((p) => typeof p !== 'string' && !isBody(p) && !(p.isPath && NOT_BODY.test(p.source))),
  };
}

type Content = Array<string | Buffer>;

/** The signed content, in pieces to hash in order (text as UTF-8); a promise only when a part needs JSONata. */
function signedContent(r: Resolved, d: Delivery, timestamp: string | undefined): Content | Promise<Content> {
  const pieces = r.pieces && isUtf8(d.rawBody) ? r.pieces : undefined;
  const body = pieces && !pieces.othersReadBody ? undefined : d.rawBody.toString('utf8');
  // The URL only if the content may read it (a receiver works it out on demand).
  const ctx = { timestamp, id: d.headers['webhook-id'], headers: d.headers, body, method: d.method, url: r.readsUrl ? d.url : undefined };
  if (!pieces) return renderedContent(r.content, ctx);
  return piecesFrom(pieces.parts, 0, ctx, d.rawBody, [], '');
}

async function renderedContent(content: Template, ctx: Record<string, unknown>): Promise<Content> {
  const v = await renderTemplate(content, ctx, ctx);
  return [Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8')];
}

/**
 * The pieces from part `start` on, added to `out` (`text`: joined text not yet added). Text between two
 * bodies is joined before it is encoded, as rendering would have joined it.
 */
function piecesFrom(parts: ContentPieces['parts'], start: number, ctx: Record<string, unknown>, rawBody: Buffer, out: Content, text: string): Content | Promise<Content> {
  for (let i = start; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === RAW_BODY) {
      if (text) out.push(text);
      text = '';
      out.push(rawBody);
    } else if (typeof p === 'string') text += p;
    else {
      const fast = p.readSync(ctx, ctx);
      if (!fast) return p.evaluate(ctx, ctx).then((v) => piecesFrom(parts, i + 1, ctx, rawBody, out, text + templateText(v)));
      text += templateText(fast.value);
    }
  }
  if (text) out.push(text);
  return out;
}

/** Decoded keys of the secrets seen last, per scheme: decoding a base64 secret on every delivery is avoidable work. */
const KEYS_KEPT = 64;

function keyBytes(r: Resolved, secret: string): Buffer {
  let key = r.keys.get(secret);
  if (!key) {
    if (r.keyEncoding === 'utf8') key = Buffer.from(secret, 'utf8');
    else if (r.keyEncoding === 'base64') key = Buffer.from(secret, 'base64');
    else key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
    if (r.keys.size >= KEYS_KEPT) r.keys.clear();
    r.keys.set(secret, key);
  }
  return key;
}

function hmac(r: Resolved, secret: string, content: Content): Buffer {
  const h = createHmac(r.algorithm, keyBytes(r, secret));
  for (const piece of content) h.update(piece);
  return h.digest();
}

function decodeSignature(encoding: 'hex' | 'base64', s: string): Buffer | undefined {
  if (encoding === 'hex') return /^(?:[0-9a-fA-F]{2})+$/.test(s) ? Buffer.from(s, 'hex') : undefined;
  return /^[A-Za-z0-9+/_-]+={0,2}$/.test(s) ? Buffer.from(s, 'base64') : undefined;
}

async function sign(r: Resolved, secret: string, rawBody: Buffer, given: Record<string, string>, tsMs: number, request: { method?: string; url?: string }): Promise<Record<string, string>> {
  const headers: Record<string, string> = Object.fromEntries(Object.entries(given).map(([k, v]) => [k.toLowerCase(), v]));
  const tsText = r.unit === 'iso8601' ? new Date(tsMs).toISOString() : r.unit === 'milliseconds' ? String(Math.floor(tsMs)) : String(Math.floor(tsMs / 1000));
  const out: Record<string, string> = {};
  if (r.timestampHeader && headers[r.timestampHeader] === undefined) out[r.timestampHeader] = headers[r.timestampHeader] = tsText;
  if (r.header === 'webhook-signature' && headers['webhook-id'] === undefined) out['webhook-id'] = headers['webhook-id'] = `msg_${randomUUID()}`;
  const usedTs = r.timestampHeader ? headers[r.timestampHeader]! : tsText;
  const digest = hmac(r, secret, await signedContent(r, { headers, rawBody, method: request.method, url: request.url }, usedTs)).toString(r.encoding);
  const f = r.format;
  out[r.header] = f.type === 'plain' ? digest : f.type === 'list' ? `${f.prefix ?? ''}${digest}` : `${f.timestamp_key ? `${f.timestamp_key}=${usedTs}${f.pair_separator ?? ','}` : ''}${f.signature_key}=${digest}`;
  return out;
}

function safeJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
