import cron from 'node-cron';
import { compileExpression, ExpressionError, splitTemplate } from '../expressions/index.ts';
import type { Diagnostic } from './diagnostics.ts';
import { checkFunctions } from '../expressions/functions.ts';
import { forEachExpressionField } from './expression-fields.ts';
import { requestUsesSince } from '../sync/since.ts';
import { cursorInstant } from '../sync/cursor.ts';
import { didYouMean } from './suggest.ts';
import { checkBodies } from './lint-bodies.ts';
import { checkHosts } from './lint-hosts.ts';
import type { ConnectorSpec, StreamSpec } from './types.ts';
import { dottedPath, pointerJoin, positionInside, positionOf, type SourceDocument } from './yaml-source.ts';


/** What a schema cannot say: expressions compile, names resolve, crons parse, webhooks are verifiable. */
export function lintSpec(src: SourceDocument): Diagnostic[] {
  const out: Diagnostic[] = [];
  const spec = (src.value ?? {}) as Partial<ConnectorSpec>;
  if (!spec || typeof spec !== 'object') return out;
  const report = (pointer: string, code: string, message: string, hint?: string, severity: Diagnostic['severity'] = 'error', preferKey = false) => {
    const p = positionOf(src, pointer, preferKey);
    out.push({ file: src.file, line: p.line, column: p.column, code, message, hint, severity, path: dottedPath(pointer) });
  };

  const sources: Array<{ pointer: string; source: string }> = [];
  collectExpressions(src, spec, out, sources);
  checkFunctionDefinitions(src, spec, out);
  checkReferences(spec, sources, report);
  checkNames(spec, report);
  checkStreams(spec, report);
  checkWebhooks(spec, report);
  checkWriteback(spec, report);
  checkBodies(spec, report);
  checkHosts(spec, report);
  return out;
}

// ---- expressions: walk the value beside the schema; compile every `expression` and `template` ----

function collectExpressions(src: SourceDocument, spec: unknown, out: Diagnostic[], sources: Array<{ pointer: string; source: string }>) {
  const compileAt = (pointer: string, source: string, offset: number) => {
    sources.push({ pointer, source });
    try {
      compileExpression(source);
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      const at = positionOf(src, pointer);
      const where = positionInside(src, at, offset + Math.max(0, (e.position ?? 1) - 1));
      out.push({ file: src.file, line: where.line, column: where.column, code: 'EXPRESSION_SYNTAX', message: `${e.message} in \`${dottedPath(pointer)}\``, hint: 'JSONata reference: https://docs.jsonata.org; templates put JSONata between {{ and }}', severity: 'error', path: dottedPath(pointer) });
    }
  };
  const visitTemplate = (value: unknown, pointer: string) => {
    if (typeof value === 'string') {
      if (!value.includes('{{')) return;
      try {
        for (const seg of splitTemplate(value)) if (typeof seg !== 'string') compileAt(pointer, seg.source, seg.offset);
      } catch (e) {
        if (!(e instanceof ExpressionError)) throw e;
        const at = positionOf(src, pointer);
        const where = positionInside(src, at, e.position ?? 0);
        out.push({ file: src.file, line: where.line, column: where.column, code: 'EXPRESSION_SYNTAX', message: `${e.message} in \`${dottedPath(pointer)}\``, hint: 'close every {{ with }}', severity: 'error', path: dottedPath(pointer) });
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => visitTemplate(v, pointerJoin(pointer, i)));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) visitTemplate(v, pointerJoin(pointer, k));
  };
  forEachExpressionField(spec, (f) => {
    if (f.kind === 'template') visitTemplate(f.value, f.pointer);
    else if (typeof f.value === 'string' && f.value.trim()) compileAt(f.pointer, f.value, 0);
  });
}

// ---- definitions.functions: each compiles, is a function, and takes no reserved name ----

function checkFunctionDefinitions(src: SourceDocument, spec: Partial<ConnectorSpec>, out: Diagnostic[]) {
  const fns = spec.definitions?.functions;
  if (!fns || typeof fns !== 'object') return;
  for (const p of checkFunctions(fns)) {
    const pointer = pointerJoin('/definitions/functions', p.name);
    const at = positionOf(src, pointer, p.code === 'LINT_FUNCTION_NAME' || p.code === 'LINT_FUNCTION_RESERVED_NAME');
    const where = p.offset !== undefined ? positionInside(src, at, Math.max(0, p.offset - 1)) : at;
    const hint =
      p.code === 'EXPRESSION_SYNTAX' ? 'a function is `function($a, $b){ ... }` in JSONata: https://docs.jsonata.org/programming#functions'
      : p.code === 'LINT_FUNCTION_RESERVED_NAME' ? 'names may not shadow JSONata built-ins or $fromMinor/$toMinor'
      : undefined;
    out.push({ file: src.file, line: where.line, column: where.column, code: p.code, message: p.message, hint, severity: 'error', path: dottedPath(pointer) });
  }
}

// ---- names used in expressions resolve to declared credentials and settings ----

type Report = (pointer: string, code: string, message: string, hint?: string, severity?: Diagnostic['severity'], preferKey?: boolean) => void;

function checkReferences(spec: Partial<ConnectorSpec>, sources: Array<{ pointer: string; source: string }>, report: Report) {
  const creds = new Set((Array.isArray(spec.credentials) ? spec.credentials : []).map((c) => c?.name).filter(Boolean));
  const settings = new Set((Array.isArray(spec.settings) ? spec.settings : []).map((s) => s?.name).filter(Boolean));
  for (const { pointer, source } of sources) {
    for (const m of source.matchAll(/\$?\bcredentials\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if (!creds.has(m[1]!)) report(pointer, 'LINT_UNDECLARED_CREDENTIAL', `\`credentials.${m[1]}\` is used in \`${dottedPath(pointer)}\` but no credential \`${m[1]}\` is declared`, didYouMean(m[1]!, creds as Set<string>) ?? 'declare it under `credentials:` (name, title, secret)');
    }
    for (const m of source.matchAll(/\$?\bsettings\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if (!settings.has(m[1]!)) report(pointer, 'LINT_UNDECLARED_SETTING', `\`settings.${m[1]}\` is used in \`${dottedPath(pointer)}\` but no setting \`${m[1]}\` is declared`, didYouMean(m[1]!, settings as Set<string>) ?? 'declare it under `settings:`');
    }
  }
}

function checkNames(spec: Partial<ConnectorSpec>, report: Report) {
  const dupes = (list: unknown, base: string, what: string) => {
    if (!Array.isArray(list)) return;
    const seen = new Map<string, number>();
    list.forEach((item, i) => {
      const name = (item as { name?: unknown } | null)?.name;
      if (typeof name !== 'string') return;
      if (seen.has(name)) report(pointerJoin(pointerJoin(base, i), 'name'), 'LINT_DUPLICATE_NAME', `${what} \`${name}\` is declared twice (first at [${seen.get(name)}])`, 'names must be unique: rename or remove one');
      else seen.set(name, i);
    });
  };
  dupes(spec.credentials, '/credentials', 'credential');
  dupes(spec.settings, '/settings', 'setting');
  const credNames = new Set((spec.credentials ?? []).map((c) => c?.name));
  (spec.settings ?? []).forEach((s, i) => {
    if (s && credNames.has(s.name)) report(`/settings/${i}/name`, 'LINT_DUPLICATE_NAME', `\`${s.name}\` is both a credential and a setting`, 'give the setting another name');
  });
  for (const [name, stream] of Object.entries(spec.streams ?? {})) dupes((stream as StreamSpec | null)?.children, `/streams/${name}/children`, 'child');
}

function checkStreams(spec: Partial<ConnectorSpec>, report: Report) {
  const streams = (spec.streams && typeof spec.streams === 'object' ? spec.streams : {}) as Record<string, StreamSpec>;
  for (const [name, stream] of Object.entries(streams)) {
    if (!stream || typeof stream !== 'object') continue;
    const base = pointerJoin('/streams', name);
    checkStreamSync(name, stream, base, report);
    const p = stream.pagination as Record<string, unknown> | undefined;
    if (p && p.type !== 'none' && p.type !== 'cursor' && p.type !== 'link_header' && !p.page_size && p.type === 'page_number' && !p.stop_when) {
      report(`${base}/pagination`, 'LINT_PAGINATION_NO_STOP', `page_number pagination in \`streams.${name}\` has neither page_size nor stop_when, so it cannot tell the last page`, 'add page_size (a short page ends it) or stop_when', 'warning');
    }
    // Without a param the page number reaches the API only through a template: one that never uses it would
    // read the first page again and again.
    if (p?.type === 'page_number' && !p.param && !/\{\{[^}]*\bpage(_size)?\b/.test(JSON.stringify(stream.request ?? {}))) {
      report(`${base}/pagination`, 'LINT_PAGINATION_PAGE_UNUSED', `page_number pagination in \`streams.${name}\` has no \`param\` and the request never uses \`{{ page }}\`, so every request would ask for the same page`, 'add param (the query parameter carrying the page number) or write {{ page }} into the request');
    }
  }
  (spec.settings ?? []).forEach((s, i) => {
    const target = s?.choices_from?.stream;
    if (typeof target === 'string' && !(target in streams)) report(`/settings/${i}/choices_from/stream`, 'LINT_UNKNOWN_STREAM', `setting \`${s.name}\` takes its choices from stream \`${target}\`, which is not declared`, didYouMean(target, Object.keys(streams)));
  });
}

function checkWebhooks(spec: Partial<ConnectorSpec>, report: Report) {
  const wh = spec.webhooks;
  if (!wh || typeof wh !== 'object') return;
  const streams = (spec.streams ?? {}) as Record<string, StreamSpec>;
  const sig = wh.signature;
  const authType = wh.authentication?.type ?? 'hmac';
  checkWebhookAuthentication(spec, wh, authType, report);
  if (authType === 'hmac' && sig && typeof sig === 'object' && !sig.preset) {
    if (!sig.header) report('/webhooks/signature', 'LINT_SIGNATURE_INCOMPLETE', 'webhooks.signature has no `header`: deliveries could not be verified', 'name the header carrying the signature, or use preset: standard_webhooks', 'error', true);
    if (!sig.signed_content) report('/webhooks/signature', 'LINT_SIGNATURE_INCOMPLETE', 'webhooks.signature has no `signed_content`', 'describe what is signed, e.g. "{{ timestamp }}.{{ body }}"', 'error', true);
    const kv = sig.format?.type === 'key_value' ? sig.format : undefined;
    if (!sig.timestamp && !kv?.timestamp_key) report('/webhooks/signature', 'LINT_NO_REPLAY_PROTECTION', 'webhooks.signature has no timestamp, so old deliveries can be replayed', 'add timestamp.from (and unit) if the system sends one', 'warning', true);
    if (sig.timestamp && !sig.timestamp.from && !kv?.timestamp_key) report('/webhooks/signature/timestamp', 'LINT_SIGNATURE_INCOMPLETE', 'webhooks.signature.timestamp has no `from`, and the signature format carries no timestamp_key', 'say where the timestamp is, e.g. from: headers."x-timestamp"', 'error', true);
    if (typeof sig.signed_content === 'string' && sig.signed_content.includes('{{') && !/\bbody\b/.test(sig.signed_content)) report('/webhooks/signature/signed_content', 'LINT_SIGNATURE_WITHOUT_BODY', 'signed_content does not include `body`: a tampered body would still verify', 'include {{ body }}');
  }
  const reg = wh.registration;
  if (reg?.secret && !reg.secret_credential) report('/webhooks/registration/secret', 'LINT_UNDECLARED_CREDENTIAL', 'registration takes the signing secret from the response but names no `secret_credential` to store it in', 'add secret_credential: <a declared credential>', 'error', true);
  if (reg?.secret_credential) {
    const cred = (spec.credentials ?? []).find((c) => c?.name === reg.secret_credential);
    if (!cred) report('/webhooks/registration/secret_credential', 'LINT_UNDECLARED_CREDENTIAL', `registration stores its secret in credential \`${reg.secret_credential}\`, which is not declared`, didYouMean(reg.secret_credential, (spec.credentials ?? []).map((c) => c?.name ?? '')));
    else if (!cred.generated && !reg.secret) report('/webhooks/registration/secret_credential', 'LINT_SECRET_NOT_GENERATED', `credential \`${cred.name}\` receives a registered webhook secret but has no \`generated\` kind`, 'add generated: whsec to the credential');
  }
  // A name is taken for good by the first rule without `when`; a later rule for it could never run.
  const seen = new Map<string, number>();
  (Array.isArray(wh.events) ? wh.events : []).forEach((ev, i) => {
    if (!ev || typeof ev !== 'object') return;
    const base = `/webhooks/events/${i}`;
    for (const name of Array.isArray(ev.on) ? ev.on : [ev.on]) {
      if (typeof name !== 'string') continue;
      if (seen.has(name)) report(`${base}/on`, 'LINT_DUPLICATE_NAME', `event \`${name}\` is handled twice (first by events[${seen.get(name)}], which has no \`when\`); only the first rule would ever run`, 'merge the two rules, or give the first a `when`');
      else if (!ev.when) seen.set(name, i);
    }
    if (ev.action === 'ignore') return;
    if (!ev.stream) {
      report(base, 'LINT_EVENT_NO_STREAM', `events[${i}] (${ev.action}) does not say which stream it updates`, 'add stream: <name>', 'error', true);
      return;
    }
    const stream = streams[ev.stream];
    if (!stream) {
      report(`${base}/stream`, 'LINT_UNKNOWN_STREAM', `events[${i}] refers to stream \`${ev.stream}\`, which is not declared`, didYouMean(ev.stream, Object.keys(streams)));
      return;
    }
    if (['refetch', 'delete', 'payment_status'].includes(ev.action) && !ev.id) report(base, 'LINT_EVENT_NO_ID', `events[${i}] (${ev.action}) needs \`id\`: where the record id is in the delivery`, 'e.g. id: body.resourceId', 'error', true);
    if (ev.action === 'refetch' && !stream.fetch) report(`${base}/action`, 'LINT_REFETCH_WITHOUT_FETCH', `events[${i}] re-fetches from stream \`${ev.stream}\`, which has no \`fetch\` request`, `add streams.${ev.stream}.fetch.request`);
    if (ev.action === 'payment_status' && !ev.payment_status) report(base, 'LINT_EVENT_NO_STATUS', `events[${i}] (payment_status) needs \`payment_status\``, 'e.g. payment_status: $lowercase(body.status)', 'error', true);
    if (ev.writeback && !['invoice', 'credit_note'].includes(stream.entity)) report(`${base}/writeback`, 'LINT_WRITEBACK_ENTITY', `events[${i}] requests write-back for stream \`${ev.stream}\` of ${stream.entity}s; only invoices and credit notes take tax`);
    if (ev.writeback) {
      const target = stream.entity === 'invoice' ? spec.writeback?.invoice : spec.writeback?.credit_note;
      if (!target) report(`${base}/writeback`, 'LINT_WRITEBACK_MISSING', `events[${i}] requests write-back but the spec has no writeback.${stream.entity}`, `add writeback.${stream.entity}`);
    }
  });
}

/** Authentication kinds, and the shared URL (per_connector) with its tenant routing. */
function checkWebhookAuthentication(spec: Partial<ConnectorSpec>, wh: NonNullable<ConnectorSpec['webhooks']>, authType: string, report: Report) {
  if (authType === 'hmac' && !wh.signature) report('/webhooks', 'LINT_SIGNATURE_INCOMPLETE', 'webhooks has no `signature`, and authentication is hmac (the default): deliveries could not be verified', 'add webhooks.signature, or set webhooks.authentication (basic, token, or none with a reason)', 'error', true);
  if (authType !== 'hmac' && wh.signature) report('/webhooks/signature', 'LINT_SIGNATURE_UNUSED', `webhooks.signature is ignored: authentication is ${authType}`, 'remove the signature section, or set authentication.type: hmac', 'warning');
  if (authType === 'none') {
    const reason = wh.authentication?.type === 'none' ? wh.authentication.reason : '';
    report('/webhooks/authentication', 'LINT_WEBHOOK_UNAUTHENTICATED', `webhook deliveries are not authenticated (${String(reason).slice(0, 200)}): anyone who knows the URL can send events`, 'prefer basic, token or hmac; otherwise make every rule re-read its record by id (action: refetch)', 'warning');
  }
  const a = wh.authentication;
  if (a?.type === 'token' && a.in === 'query' && a.prefix) report('/webhooks/authentication/prefix', 'LINT_TOKEN_PREFIX', '`prefix` applies to a token in a header only', 'remove prefix, or set in: header', 'warning');
  if ((wh.tenant === undefined) !== (wh.tenant_setting === undefined)) {
    report(wh.tenant === undefined ? '/webhooks/tenant_setting' : '/webhooks/tenant', 'LINT_TENANT_INCOMPLETE', 'webhooks.tenant and webhooks.tenant_setting go together: the tenant an event names, and the connection setting it must equal', 'declare both', 'error', true);
  }
  if (wh.tenant_setting && !(spec.settings ?? []).some((s) => s?.name === wh.tenant_setting)) {
    report('/webhooks/tenant_setting', 'LINT_UNKNOWN_SETTING', `webhooks.tenant_setting names \`${wh.tenant_setting}\`, which is not a declared setting`, didYouMean(wh.tenant_setting, (spec.settings ?? []).map((s) => s?.name ?? '')));
  }
  if (wh.url === 'per_connector') {
    if (!wh.tenant) report('/webhooks/url', 'LINT_TENANT_INCOMPLETE', 'a per_connector webhook URL needs `tenant` and `tenant_setting`: without them no event could be routed to its connection', 'e.g. tenant: item.realmId, tenant_setting: realm_id', 'error', true);
    // One URL for every connection: no connection's values can verify it, only the deployment's app secret.
    const templates = authType === 'hmac' ? [wh.signature?.secret] : a?.type === 'basic' ? [a.username, a.password] : a?.type === 'token' ? [a.value] : [];
    for (const tpl of templates) {
      if (typeof tpl !== 'string') continue;
      if (/\b(credentials|settings)\./.test(tpl)) report(authType === 'hmac' ? '/webhooks/signature/secret' : '/webhooks/authentication', 'LINT_SHARED_URL_SECRET', 'a per_connector webhook URL is verified before any connection is known: its secret cannot come from credentials or settings', 'use "{{ app.webhook_secret }}" (TAXBRIDGE_WEBHOOK_<NAME>_SECRET)', 'error', true);
    }
    if (wh.registration) report('/webhooks/registration', 'LINT_SHARED_URL_REGISTRATION', 'a per_connector webhook URL is one per deployment; registering it for every connection would register it many times', 'configure the URL once in the system\'s developer portal, or use url: per_connection', 'warning');
  } else if (authType !== 'none') {
    const templates = authType === 'hmac' ? [wh.signature?.secret] : a?.type === 'basic' ? [a.username, a.password] : a?.type === 'token' ? [a.value] : [];
    if (templates.some((tpl) => typeof tpl === 'string' && /\bapp\./.test(tpl))) report('/webhooks', 'LINT_APP_SECRET_PER_CONNECTION', '`app.webhook_secret` is only set for a per_connector webhook URL', 'set webhooks.url: per_connector, or read the secret from credentials', 'error', true);
  }
}

function checkWriteback(spec: Partial<ConnectorSpec>, report: Report) {
  const streams = (spec.streams ?? {}) as Record<string, StreamSpec>;
  for (const kind of ['invoice', 'credit_note'] as const) {
    const t = spec.writeback?.[kind];
    if (!t || typeof t.stream !== 'string') continue;
    const stream = streams[t.stream];
    if (!stream) report(`/writeback/${kind}/stream`, 'LINT_UNKNOWN_STREAM', `writeback.${kind} refers to stream \`${t.stream}\`, which is not declared`, didYouMean(t.stream, Object.keys(streams)));
    else if (stream.entity !== kind) report(`/writeback/${kind}/stream`, 'LINT_WRITEBACK_ENTITY', `writeback.${kind} uses stream \`${t.stream}\`, whose entity is ${stream.entity}`, `point it at a stream with entity: ${kind}`);
    if (t.conflict && !t.read) report(`/writeback/${kind}/conflict`, 'LINT_CONFLICT_WITHOUT_READ', `writeback.${kind}.conflict retries after reading the document again, but writeback.${kind} has no \`read\``, 'add read: {request, save_as} (e.g. the current SyncToken or ETag), or remove conflict', 'error', true);
    const triggers = t.trigger ?? ['webhook', 'api'];
    const wanted = (spec.webhooks?.events ?? []).findIndex((ev) => ev?.writeback === true && ev.stream === t.stream);
    if (wanted >= 0 && !triggers.includes('webhook')) report(`/webhooks/events/${wanted}/writeback`, 'LINT_WRITEBACK_TRIGGER', `events[${wanted}] asks for write-back, but writeback.${kind}.trigger leaves out webhook, so the event will not write tax`, `add webhook to writeback.${kind}.trigger, or drop writeback: true from the rule`, 'warning');
  }
}

/** Schedules, incremental templates, change feed and deletion by absence of one stream. */
function checkStreamSync(name: string, stream: StreamSpec, base: string, report: Report) {
  const where = (i: number | undefined) => (i === undefined ? `${base}/schedule` : `${base}/schedules/${i}`);
  if (stream.schedule && stream.schedules) {
    report(`${base}/schedules`, 'LINT_SCHEDULE_TWICE', `stream \`${name}\` has both \`schedule\` and \`schedules\``, 'move the single schedule into schedules (a list, each with its mode)', 'error', true);
  }
  const list: Array<[number | undefined, unknown]> = Array.isArray(stream.schedules) ? stream.schedules.map((s, i) => [i, s]) : stream.schedule ? [[undefined, stream.schedule]] : [];
  for (const [i, raw] of list) {
    const sched = raw as { cron?: unknown; timezone?: unknown; mode?: unknown } | null;
    if (!sched || typeof sched !== 'object') continue;
    const label = i === undefined ? `streams.${name}.schedule` : `streams.${name}.schedules[${i}]`;
    if (typeof sched.cron === 'string' && !cron.validate(sched.cron)) {
      report(`${where(i)}/cron`, 'LINT_BAD_CRON', `\`${sched.cron}\` is not a valid cron expression in \`${label}\``, 'five fields (minute hour day month weekday) or six with seconds first, e.g. "*/15 * * * *"');
    }
    if (typeof sched.timezone === 'string' && !validTimezone(sched.timezone)) {
      report(`${where(i)}/timezone`, 'LINT_BAD_TIMEZONE', `\`${sched.timezone}\` is not an IANA time zone`, 'e.g. UTC, Europe/London, America/New_York');
    }
    if (sched.mode === 'incremental' && !stream.incremental && !stream.change_feed) {
      report(`${where(i)}/mode`, 'LINT_INCREMENTAL_WITHOUT_CURSOR', `stream \`${name}\` is scheduled as incremental but has neither \`incremental\` nor \`change_feed\``, 'add incremental.cursor_field (or a change_feed), or use mode: full');
    }
  }
  const inc = stream.incremental;
  if (inc && inc.initial !== undefined && (typeof inc.initial === 'string' || typeof inc.initial === 'number') && cursorInstant(inc.initial, inc.format) === undefined) {
    report(`${base}/incremental/initial`, 'LINT_BAD_INITIAL', `\`${inc.initial}\` in \`streams.${name}.incremental.initial\` is not an instant`, 'an ISO 8601 time such as 2020-01-01T00:00:00Z, or a number in the format\'s unit');
  }
  if (stream.request && typeof stream.request === 'object' && requestUsesSince(stream.request) && !inc) {
    report(`${base}/request`, 'LINT_SINCE_WITHOUT_INCREMENTAL', `\`streams.${name}.request\` uses \`incremental.since\`, but the stream has no \`incremental\` section to say its format and cursor`, 'add incremental (cursor_field, format, initial)', 'error', true);
  }
  if (inc?.param && stream.request && typeof stream.request === 'object' && requestUsesSince(stream.request)) {
    report(`${base}/incremental/param`, 'LINT_CURSOR_SENT_TWICE', `stream \`${name}\` sends its cursor both as \`incremental.param\` and through \`incremental.since\` in its request`, 'keep one of the two', 'warning');
  }
  const feed = stream.change_feed;
  if (feed?.request && typeof feed.request === 'object' && !requestUsesSince(feed.request)) {
    report(`${base}/change_feed/request`, 'LINT_FEED_WITHOUT_SINCE', `\`streams.${name}.change_feed.request\` does not use \`incremental.since\`, so every incremental run reads the whole feed`, 'filter it, e.g. created[gt]: "{{ incremental.since }}"', 'warning', true);
  }
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
