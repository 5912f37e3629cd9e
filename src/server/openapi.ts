/**
 * The OpenAPI 3.1 description of everything `taxbridge serve` answers, served at GET /openapi.json.
 * Written by hand; test/serve-openapi.test.ts fails when a route the server mounts is missing here (or the
 * other way round).
 */

import { openApiEntityComponents, openApiTaxComponents } from '../tax/api-schemas.ts';

type Schema = Record<string, unknown>;
type Op = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
const data = (schema: Schema): Schema => ({ type: 'object', required: ['data'], properties: { data: schema } });
const list = (schema: Schema): Schema => data({ type: 'array', items: schema });
const errorResponse = (description: string) => json(ref('ApiError'), description);
const body = (schema: Schema, required = true) => ({ required, content: { 'application/json': { schema } } });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const queryParam = (name: string, description: string, schema: Schema = { type: 'string' }) => ({ name, in: 'query', required: false, schema, description });

const adminErrors = {
  '401': errorResponse('Missing or wrong admin token (`unauthorized_access`).'),
  '400': errorResponse('Invalid input: the `code` says what (e.g. `validation_errors`, `CONNECTION_INPUT`) and `param` where.'),
};
// The bearer token, or a web console session: its cookie, plus X-CSRF-Token on every method that changes something.
const admin = (op: Op): Op => ({ security: [{ adminToken: [] }, { consoleSession: [], consoleCsrf: [] }], ...op, responses: { ...adminErrors, ...(op.responses as object) } });
const taxKey = (op: Op): Op => ({
  security: [{ apiKey: [] }, { apiKeyBearer: [] }],
  ...op,
  responses: {
    '401': errorResponse('Missing, unknown or revoked API key (`unauthorized_access`).'),
    '429': errorResponse('Rate limit of the key exceeded (`too_many_requests`); see Retry-After.'),
    '500': errorResponse('Unexpected failure (`internal_server_error`), safe to retry.'),
    ...(op.responses as object),
  },
});

const schemas: Record<string, Schema> = {
  ApiError: {
    type: 'object',
    required: ['type', 'code', 'message'],
    properties: {
      type: { const: 'api_error' },
      code: { type: 'string', description: 'Stable machine-readable code.' },
      message: { type: 'string', description: 'What is wrong, for a person.' },
      param: { type: 'string', description: 'The input field at fault.' },
      hint: { type: 'string', description: 'The likely fix.' },
      details: { type: 'object' },
    },
  },
  // The tax API's shapes, each once in schemas/tax-api/ (src/tax/api-schemas.ts): CalculateTaxRequest,
  // CalculateTaxResponse, CalculationLifecycle*, Export*.
  ...openApiTaxComponents(),
  // Stored entities (schemas/entities/): the admin API answers organizations and their registrations as stored.
  ...openApiEntityComponents(),
  Organization: ref('EntityOrganization'),
  Registration: ref('EntityOrganizationRegistration'),
  ApiKey: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      organization_id: { type: 'string' },
      mode: { enum: ['test', 'live'] },
      prefix: { type: 'string' },
      name: { type: 'string' },
      created_at: { type: 'string' },
      revoked_at: { type: ['string', 'null'] },
      last_used_at: { type: ['string', 'null'] },
      key: { type: 'string', description: 'Only in the answer to its creation.' },
    },
  },
  Connector: {
    type: 'object',
    properties: {
      name: { type: 'string' },
      title: { type: 'string' },
      category: { type: 'string' },
      description: { type: 'string' },
      docs_url: { type: 'string', description: 'The system’s API documentation (the spec’s docs_url).' },
      environments: { type: 'array', items: { type: 'string' } },
      credentials: { type: 'array', items: { type: 'object' } },
      settings: { type: 'array', items: { type: 'object' } },
      streams: { type: 'object' },
      webhooks: { type: 'string' },
      calls_tax_api: { type: 'boolean' },
    },
  },
  Connection: {
    type: 'object',
    description: 'A connection; credentials are shown only as set/unset (their value only when the spec declares them `secret: false`).',
    properties: {
      id: { type: 'string' },
      organization_id: { type: 'string' },
      connector: { type: 'string' },
      connector_title: { type: 'string' },
      environment: { enum: ['sandbox', 'production'] },
      base_url: { type: 'string' },
      status: { enum: ['pending', 'active', 'needs_reauthorization', 'disconnected'], description: 'needs_reauthorization: the system refused the OAuth grant (consent revoked or expired); schedules are stopped and write-backs wait until POST /admin/connections/{id}/reauthorize and the consent.' },
      next_step: { type: 'object', description: 'For pending connections: choose_setting, provide_setting, webhook_secret, or authorize (OAuth: open authorization_url before expires_at).' },
      authorization: { type: 'object', description: 'OAuth connections: authorized_at, refreshed_at, expires_at (of the access token, refreshed before), scope, refresh_token (whether one is stored). Never a token.' },
      credentials: { type: 'object', additionalProperties: { type: 'object', properties: { set: { type: 'boolean' }, value: { type: 'string' }, title: { type: 'string' } } } },
      settings: { type: 'object' },
      webhook_url: { type: 'string', description: 'Where the system sends webhooks (absent for connectors without webhooks).' },
      webhook: { type: 'object', properties: { mode: { enum: ['api', 'manual', 'none'] }, registered_at: { type: 'string' }, registration_id: { type: 'string' }, skipped: { type: 'boolean' } } },
      tax_api_key: { type: 'object', properties: { id: { type: 'string' }, prefix: { type: 'string' } } },
      backfill: { type: 'object' },
      last_error: { type: 'object' },
      created_at: { type: 'string' },
      updated_at: { type: 'string' },
    },
  },
  ConnectionStatus: {
    allOf: [
      ref('Connection'),
      {
        type: 'object',
        properties: {
          sync: { type: 'object', description: 'Per stream: entity, counts {active, deleted}, last_sync, last_success_at, running, schedule (the first: cron, mode, next_run) and schedules (every schedule of the stream with its mode, timezone and next_run).' },
          webhooks: { type: 'object', description: 'received, failed, pending, last event.' },
          writebacks: { type: 'object', description: 'pending, dead, applied, no_tax, unchanged, last job.' },
          errors: { type: 'array', items: { type: 'object' } },
        },
      },
    ],
  },
  OAuthCallbackResult: {
    type: 'object',
    required: ['outcome', 'code', 'message'],
    properties: {
      outcome: { enum: ['authorized', 'denied', 'refused', 'invalid'] },
      code: { type: 'string', description: 'OAUTH_AUTHORIZED, OAUTH_CONSENT_DENIED, OAUTH_STATE_UNKNOWN, OAUTH_STATE_USED, OAUTH_STATE_EXPIRED, OAUTH_CALLBACK_INVALID, OAUTH_ACCOUNT_MISMATCH, ...' },
      message: { type: 'string' },
      connection_id: { type: 'string' },
      connection_status: { type: 'string' },
      next: { type: 'array', items: { type: 'string' } },
    },
  },
  ConnectResult: {
    type: 'object',
    properties: {
      connection: ref('Connection'),
      choices: { type: 'object', additionalProperties: { type: 'array', items: { type: 'object', properties: { value: {}, label: { type: 'string' } } } } },
      webhook_url: { type: 'string', description: 'Paste into the system (Rillet: Webhooks > Create webhook).' },
      authorization_url: { type: 'string', description: 'OAuth connectors: open it in a browser to give consent (single use, valid 10 minutes).' },
      tax_api_key: { type: 'string', description: 'For billing systems (Sequence) to call the tax API. Shown once.' },
      messages: { type: 'array', items: { type: 'string' } },
    },
  },
  SyncRun: {
    type: 'object',
    required: ['id', 'connection_id', 'streams', 'full', 'status', 'queued_at'],
    description: 'A sync started through POST /admin/connections/{id}/sync, remembered while the server runs (the last 20 per connection).',
    properties: {
      id: { type: 'string' },
      connection_id: { type: 'string' },
      streams: { type: 'array', items: { type: 'string' } },
      full: { type: 'boolean' },
      status: { enum: ['queued', 'running', 'succeeded', 'failed', 'stopped'], description: 'failed: a stream failed (see summaries) or the run did; stopped: the connection was stopped or the server shut down first (it resumes from its checkpoint).' },
      queued_at: { type: 'string', format: 'date-time' },
      started_at: { type: 'string', format: 'date-time' },
      finished_at: { type: 'string', format: 'date-time' },
      progress: { type: 'object', description: 'While running: the stream being read and its last committed page (page, pages, records, created, updated, failed, elapsed_ms).' },
      summaries: { type: 'array', items: { type: 'object' }, description: "Once ended: each stream's summary (as stored in sync_runs; its first 5 record failures)." },
      error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    },
  },
  ConnectRequest: {
    type: 'object',
    required: ['connector', 'organization_id'],
    additionalProperties: false,
    properties: {
      connector: { type: 'string', examples: ['sequence', 'rillet'] },
      organization_id: { type: 'string' },
      environment: { enum: ['sandbox', 'production'], description: 'Default: sandbox for a test organization, production for a live one.' },
      credentials: { type: 'object', additionalProperties: { type: 'string' } },
      settings: { type: 'object' },
      base_url: { type: 'string', format: 'uri', description: "Overrides the spec's base URL (a proxy or a fake)." },
      skip_webhooks: { type: 'boolean' },
    },
  },
  UpdateConnectionRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      credentials: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
      settings: { type: 'object' },
      skip_webhooks: { type: 'boolean' },
      base_url: { type: ['string', 'null'] },
    },
  },
  SyncedRecord: {
    type: 'object',
    properties: {
      external_id: { type: 'string' },
      entity: { type: 'string', description: 'customer, product, invoice, credit_note, …' },
      stream: { type: 'string' },
      deleted: { type: 'boolean' },
      first_seen_at: { type: 'string' },
      updated_at: { type: 'string' },
      data: { type: 'object', description: 'The mapped record, as schemas/entities/<entity>.schema.json describes it.' },
    },
  },
  WebhookEvent: { type: 'object', description: 'An inbox event: id, connection_id, event_type, action, status, attempts, outcome, last_error, received_at.' },
  WritebackJob: { type: 'object', description: 'A write-back job: id, connection_id, kind, document_id, status, reason, attempts, last_error, sent.' },
};

const orgParam = pathParam('org', 'Organization id.');
const connParam = pathParam('id', 'Connection id.');

const paths: Record<string, Record<string, Op>> = {
  '/healthz': { get: { tags: ['health'], summary: 'The process is up', responses: { '200': json({ type: 'object', properties: { status: { const: 'ok' }, version: { type: 'string' }, uptime_s: { type: 'integer' } } }, 'Up.') } } },
  '/readyz': {
    get: {
      tags: ['health'],
      summary: 'The process can work: store open, specs loaded, workers running',
      responses: {
        '200': json({ type: 'object', properties: { status: { const: 'ready' }, checks: { type: 'object' } } }, 'Ready.'),
        '503': json({ type: 'object', properties: { status: { const: 'not_ready' }, checks: { type: 'object' } } }, 'Not ready (starting or shutting down); `checks` says which part.'),
      },
    },
  },
  '/openapi.json': { get: { tags: ['health'], summary: 'This document', responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1.') } } },
  '/metrics': {
    get: {
      tags: ['operations'],
      summary: 'Prometheus metrics',
      description:
        'Prometheus text exposition format (text/plain; version=0.0.4): HTTP requests and latency by route template and status, tax calculations by result and reason, webhook deliveries by connector and outcome, queue depth and oldest-item age, write-backs by outcome, sync runs, records and duration by connector and stream, upstream requests and retries by connector and status, store write latency, alert deliveries, process metrics. Labels never carry ids. Requires the admin token or the metrics token (TAXBRIDGE_METRICS_TOKEN); absent (404) when the configuration sets metrics: false.',
      security: [{ adminToken: [] }, { metricsToken: [] }],
      responses: {
        '200': { description: 'The metrics.', content: { 'text/plain': { schema: { type: 'string' } } } },
        '401': errorResponse('Missing or wrong token (`unauthorized_access`).'),
        '503': errorResponse('The queues could not be read from the store (`metrics_unavailable`); retry.'),
      },
    },
  },

  '/tax_api/calculate_tax': {
    post: taxKey({
      tags: ['tax'],
      summary: 'Calculate tax (Sphere-compatible)',
      requestBody: body(ref('CalculateTaxRequest')),
      responses: {
        '200': json(ref('CalculateTaxResponse'), 'Tax per line; empty tax_amounts where nothing is due.'),
        '400': errorResponse('validation_errors (also: too many lines, a string too long, nesting deeper than 32; `param` names the field), customer_tax_location_invalid, invalid_product_tax_code or unsupported_feature.'),
        '413': errorResponse('Body larger than the limit (1 MiB by default).'),
        '415': errorResponse('Content-Type is not JSON.'),
        '503': errorResponse('recording_backlog: calculations arrive faster than they can be recorded; retry after Retry-After seconds.'),
      },
    }),
  },
  '/tax_api/calculations/{id}': {
    get: taxKey({
      tags: ['tax'],
      summary: 'A recorded calculation of the key’s organization',
      parameters: [pathParam('id', 'sphere_tax_calculation_id')],
      responses: { '200': json(ref('CalculationRecord'), 'The calculation.'), '404': errorResponse('No such calculation for this key.') },
    }),
  },
  '/tax_api/calculations/{id}/commit': {
    post: taxKey({
      tags: ['tax'],
      summary: 'Commit a calculation: the invoice was finalized, its tax counts as collected (idempotent)',
      parameters: [pathParam('id', 'sphere_tax_calculation_id')],
      responses: { '200': json(ref('CalculationLifecycleStatusResponse'), 'Committed.'), '404': errorResponse('No such calculation for this key.'), '409': errorResponse('The calculation is voided.') },
    }),
  },
  '/tax_api/calculations/{id}/void': {
    post: taxKey({
      tags: ['tax'],
      summary: 'Void a calculation: the invoice was voided or deleted (idempotent)',
      parameters: [pathParam('id', 'sphere_tax_calculation_id')],
      requestBody: body(ref('CalculationLifecycleVoidRequest'), false),
      responses: { '200': json(ref('CalculationLifecycleStatusResponse'), 'Voided.'), '400': errorResponse('reason too long or not a string.'), '404': errorResponse('No such calculation for this key.'), '409': errorResponse('The calculation has refunds: void them first.') },
    }),
  },
  '/tax_api/calculations/{id}/refund': {
    post: taxKey({
      tags: ['tax'],
      summary: 'Refund a committed calculation, fully or by line, at its original rates',
      parameters: [pathParam('id', 'sphere_tax_calculation_id')],
      requestBody: body(ref('CalculationLifecycleRefundRequest'), false),
      responses: {
        '201': json(ref('CalculationLifecycleRefundResponse'), 'The refund calculation (negative amounts) and the original.'),
        '400': errorResponse('A line unknown or named twice, an amount not a positive integer, nothing left to refund (`param` names the field).'),
        '404': errorResponse('No such calculation for this key.'),
        '409': errorResponse('Not committed, itself a refund, or more asked than is left (`param` names the line).'),
      },
    }),
  },
  '/tax_api/exports': {
    post: taxKey({
      tags: ['tax'],
      summary: 'Export transactions for filing: rows per line and jurisdiction, and a summary per period and jurisdiction',
      requestBody: body(ref('ExportRequest')),
      responses: {
        '201': { description: 'The export job (JSON), or with format csv the transactions CSV; Location names the job.', content: { 'application/json': { schema: ref('ExportResponse') }, 'text/csv': { schema: { type: 'string' } } } },
        '400': errorResponse('A date missing or invalid, a range over 366 days, over 50 countries, an unknown status, period or format, or over 100,000 rows (`param` names the field).'),
      },
    }),
  },
  '/tax_api/exports/{id}': {
    get: taxKey({ tags: ['tax'], summary: 'An export job with its summary and rows', parameters: [pathParam('id', 'Export id (exp_...).')], responses: { '200': json(ref('ExportResponse'), 'The export.'), '404': errorResponse('No such export for this key (the last 20 are kept).') } }),
  },
  '/tax_api/exports/{id}/transactions.csv': {
    get: taxKey({ tags: ['tax'], summary: 'An export\'s rows as CSV', parameters: [pathParam('id', 'Export id.')], responses: { '200': { description: 'CSV (RFC 4180, header row; cells starting with = + - @ are prefixed with \').', content: { 'text/csv': { schema: { type: 'string' } } } }, '404': errorResponse('No such export.') } }),
  },
  '/tax_api/exports/{id}/summary.csv': {
    get: taxKey({ tags: ['tax'], summary: 'An export\'s summary as CSV', parameters: [pathParam('id', 'Export id.')], responses: { '200': { description: 'CSV, one row per period, currency and jurisdiction.', content: { 'text/csv': { schema: { type: 'string' } } } }, '404': errorResponse('No such export.') } }),
  },
  '/tax_api/test_credentials': {
    get: taxKey({ tags: ['tax'], summary: '"Test credentials": 200 when the key is valid', responses: { '200': json(ref('TestCredentials'), 'Valid; names the organization and mode.') } }),
    post: taxKey({ tags: ['tax'], summary: '"Test credentials" (POST)', responses: { '200': json(ref('TestCredentials'), 'Valid.') } }),
  },
  '/tax_api/v1/{connector}/calculate_invoice_tax': {
    post: taxKey({
      tags: ['tax'],
      summary: 'Calculate and write tax onto an invoice in the connected system',
      parameters: [pathParam('connector', 'Connector name, e.g. sequence.')],
      requestBody: body({ type: 'object', required: ['external_id'], properties: { external_id: { type: 'string' } } }),
      responses: {
        '200': json({ type: 'object', properties: { external_id: { type: 'string' }, status: { enum: ['applied', 'unchanged', 'no_tax'] }, reason: { type: ['string', 'null'] }, calculation_id: { type: ['string', 'null'] } } }, 'Done.'),
        '202': json({ type: 'object', properties: { status: { const: 'pending' }, job_id: { type: 'string' } } }, 'The system is failing; the job retries in the background.'),
        '400': errorResponse('external_id missing or the connector writes no invoice tax.'),
        '404': errorResponse('No such connection or invoice.'),
        '502': errorResponse('writeback_failed: the system refused the write; upstream_error: it refused the read of the invoice (the message names the request and status).'),
        '503': errorResponse('storage_unavailable: storage cannot record the write-back right now; retry after Retry-After.'),
      },
    }),
  },

  '/webhooks/{token}': {
    post: {
      tags: ['webhooks'],
      summary: 'A signed webhook delivery from a connected system',
      description: 'The URL (with its unguessable token) is given when connecting. The signature is checked by the scheme of the connector spec; the event is stored before the 200.',
      parameters: [pathParam('token', 'The connection’s webhook token.')],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
      responses: {
        '200': json({ type: 'object', properties: { received: { const: true }, id: { type: 'string' }, duplicate: { type: 'boolean' }, events: { type: 'integer' }, unrouted: { type: 'integer' } } }, 'Stored (or a duplicate, acknowledged); `events` with fan-out, `unrouted` for events of another tenant.'),
        '400': json(ref('ApiError'), 'Malformed body.'),
        '401': json(ref('ApiError'), 'Missing, malformed or wrong signature or credentials (Basic, token), or a stale timestamp.'),
        '404': json(ref('ApiError'), 'Unknown token (or a disconnected connection).'),
        '413': json(ref('ApiError'), 'Body too large.'),
        '503': json(ref('ApiError'), 'Not ready to accept (no signing secret yet, store unavailable): retry later.'),
      },
    },
  },

  '/webhooks/connectors/{connector}': {
    post: {
      tags: ['webhooks'],
      summary: 'One webhook URL for every connection of a connector (spec `webhooks.url: per_connector`, e.g. QuickBooks)',
      description: 'Verified with the deployment’s app-level secret (TAXBRIDGE_WEBHOOK_<NAME>_SECRET). The delivery is split into events (`for_each`); each is stored, before the 200, only for the active connection whose tenant setting equals the event’s tenant (QuickBooks realmId). Events of no active connection are acknowledged, logged, counted (GET /admin/webhooks/unrouted) and applied to nothing.',
      parameters: [pathParam('connector', 'The connector name, e.g. quickbooks.')],
      requestBody: { required: true, content: { 'application/json': { schema: {} } } },
      responses: {
        '200': json({ type: 'object', properties: { received: { const: true }, id: { type: 'string' }, duplicate: { type: 'boolean' }, events: { type: 'integer' }, unrouted: { type: 'integer' } } }, 'Stored: `events` for connections, `unrouted` acknowledged for none.'),
        '400': json(ref('ApiError'), 'Malformed body.'),
        '401': json(ref('ApiError'), 'Missing or wrong signature or credentials.'),
        '404': json(ref('ApiError'), 'No connector receives webhooks at this URL.'),
        '413': json(ref('ApiError'), 'Body too large, or more events than webhooks.max_events (default 1000).'),
        '503': json(ref('ApiError'), 'No app secret configured, or the store is unavailable: retry later.'),
      },
    },
  },

  '/oauth/callback': {
    get: {
      tags: ['oauth'],
      summary: 'Where a system sends the user back after OAuth consent',
      description: 'Public: authenticated by the single-use `state` (bound to one connection, valid 10 minutes). Exchanges the code (with the PKCE verifier), keeps the settings the spec takes from the redirect (QuickBooks realmId) and token response, stores the tokens sealed and continues the connection (backfill starts). Answers a small HTML page, or JSON when Accept asks for application/json. Register `<public URL>/oauth/callback` as the redirect URI of the app at the system.',
      parameters: [
        queryParam('state', 'The state taxbridge put in the authorization URL (43 characters).'),
        queryParam('code', 'The authorization code (at most 2048 characters).'),
        queryParam('error', 'Set by the system when consent was not given (access_denied, ...).'),
        queryParam('error_description', 'The system’s explanation of the error.'),
      ],
      responses: {
        '200': { description: 'Authorized: the connection continues.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('OAuthCallbackResult') } } },
        '400': { description: 'Malformed callback, unknown state (replaced by a newer link or never issued), or the authorization failed.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('OAuthCallbackResult') } } },
        '403': { description: 'Consent denied (error=access_denied).', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('OAuthCallbackResult') } } },
        '409': { description: 'The state was already used, or a re-authorization came back for another account.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('OAuthCallbackResult') } } },
        '410': { description: 'The authorization link expired, or its connection was disconnected.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('OAuthCallbackResult') } } },
        '502': { description: 'The system’s token endpoint failed.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('OAuthCallbackResult') } } },
      },
    },
  },

  '/console': {
    get: {
      tags: ['console'],
      summary: 'The web console (a single-page app; its pages are after "#")',
      description: 'Served with a strict Content-Security-Policy (scripts, styles and requests from this origin only, nothing inline, no frames). Answers 503 with a plain-text explanation when the console was not built (`npm run build:console`).',
      responses: { '200': { description: 'index.html', content: { 'text/html': { schema: { type: 'string' } } } }, '503': { description: 'Not built.', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  },
  '/console/assets/{file}': {
    get: {
      tags: ['console'],
      summary: 'A bundled script or style of the console (content-hashed name, cached for a year)',
      parameters: [pathParam('file', 'File name from the build, e.g. index-3f2a1b.js.')],
      responses: { '200': { description: 'The file.' }, '404': errorResponse('No such file in the build.') },
    },
  },
  '/console/session': {
    post: {
      tags: ['console'],
      summary: 'Sign in to the console with the admin token',
      description: 'Answers a new session in an HttpOnly, SameSite=Strict cookie `tb_console` (a fresh id at every sign-in) and the session\'s CSRF token, which the console sends as X-CSRF-Token on every change. Refused from another origin (Origin / Sec-Fetch-Site). At most 20 failed sign-ins a minute.',
      requestBody: body({ type: 'object', required: ['token'], properties: { token: { type: 'string', maxLength: 512 } } }),
      responses: {
        '201': json(data({ type: 'object', properties: { signed_in: { const: true }, csrf_token: { type: 'string' }, csrf_header: { type: 'string' }, expires_in: { type: 'integer' } } }), 'Signed in; Set-Cookie carries the session.'),
        '400': errorResponse('No token in the body.'),
        '401': errorResponse('Not the admin token.'),
        '403': errorResponse('Cross-site sign-in (`csrf_refused`).'),
        '429': errorResponse('Too many failed sign-ins.'),
      },
    },
    get: {
      tags: ['console'],
      summary: 'The signed-in session (its CSRF token, e.g. after a reload)',
      security: [{ consoleSession: [] }],
      responses: { '200': json(data({ type: 'object', properties: { signed_in: { const: true }, csrf_token: { type: 'string' }, csrf_header: { type: 'string' } } }), 'Signed in.'), '401': errorResponse('No live session.') },
    },
    delete: {
      tags: ['console'],
      summary: 'Sign out (needs X-CSRF-Token)',
      security: [{ consoleSession: [], consoleCsrf: [] }],
      responses: { '204': { description: 'Signed out; the cookie is cleared.' }, '403': errorResponse('Missing CSRF token or cross-site.') },
    },
  },

  '/admin/organizations': {
    get: admin({ tags: ['admin: organizations'], summary: 'List organizations', responses: { '200': json(list(ref('Organization')), 'Organizations.') } }),
    post: admin({
      tags: ['admin: organizations'],
      summary: 'Create an organization',
      requestBody: body({ type: 'object', required: ['name', 'mode'], properties: { name: { type: 'string' }, mode: { enum: ['test', 'live'] }, origin_address: { type: 'object' }, default_product_tax_code: { type: 'string' } } }),
      responses: { '201': json(data(ref('Organization')), 'Created.') },
    }),
  },
  '/admin/organizations/{org}': {
    get: admin({ tags: ['admin: organizations'], summary: 'One organization', parameters: [orgParam], responses: { '200': json(data(ref('Organization')), 'The organization.'), '404': errorResponse('Not found.') } }),
    patch: admin({
      tags: ['admin: organizations'],
      summary: 'Change an organization',
      parameters: [orgParam],
      requestBody: body({ type: 'object', properties: { name: { type: 'string' }, origin_address: { type: 'object' }, default_product_tax_code: { type: ['string', 'null'] } } }),
      responses: { '200': json(data(ref('Organization')), 'Changed.'), '404': errorResponse('Not found.') },
    }),
  },
  '/admin/organizations/{org}/registrations': {
    get: admin({ tags: ['admin: organizations'], summary: 'Registrations (subscribed regions)', parameters: [orgParam], responses: { '200': json(list(ref('Registration')), 'Registrations.') } }),
    post: admin({
      tags: ['admin: organizations'],
      summary: 'Add a registration',
      parameters: [orgParam],
      requestBody: body({ type: 'object', required: ['country'], properties: { country: { type: 'string' }, state: { type: 'string' }, tax_calculation: { type: 'boolean', default: true }, effective_from: { type: 'string', format: 'date' } } }),
      responses: { '201': json(data(ref('Registration')), 'Added.'), '409': errorResponse('Already registered there.') },
    }),
  },
  '/admin/organizations/{org}/registrations/{reg}': {
    patch: admin({
      tags: ['admin: organizations'],
      summary: 'Switch tax calculation on/off or change the effective date',
      parameters: [orgParam, pathParam('reg', 'Registration id or "US-TX" / "DE".')],
      requestBody: body({ type: 'object', properties: { tax_calculation: { type: 'boolean' }, effective_from: { type: 'string', format: 'date' } } }),
      responses: { '200': json(data(ref('Registration')), 'Changed.'), '404': errorResponse('Not found.') },
    }),
    delete: admin({ tags: ['admin: organizations'], summary: 'Remove a registration', parameters: [orgParam, pathParam('reg', 'Registration id or "US-TX" / "DE".')], responses: { '204': { description: 'Removed.' }, '404': errorResponse('Not found.') } }),
  },
  '/admin/organizations/{org}/product_tax_codes': {
    get: admin({ tags: ['admin: organizations'], summary: 'Product tax codes', parameters: [orgParam], responses: { '200': json(data({ type: 'object' }), 'Default and per-product codes.') } }),
    post: admin({
      tags: ['admin: organizations'],
      summary: 'Set a product’s tax code',
      parameters: [orgParam],
      requestBody: body({ type: 'object', required: ['product_id', 'tax_code'], properties: { product_id: { type: 'string' }, tax_code: { type: 'string' }, connection_id: { type: 'string' } } }),
      responses: { '200': json(data({ type: 'object' }), 'Set.') },
    }),
    delete: admin({
      tags: ['admin: organizations'],
      summary: 'Remove a product’s tax code',
      parameters: [orgParam, { ...queryParam('product_id', 'The product.'), required: true }, queryParam('connection_id', 'Its connection.')],
      responses: { '204': { description: 'Removed.' }, '404': errorResponse('Not found.') },
    }),
  },
  '/admin/organizations/{org}/calculations': {
    get: admin({
      tags: ['admin: organizations'],
      summary: 'The organization’s tax calculation log, newest first',
      description: 'Recorded calculations of the tax API and of POST /admin/organizations/{org}/calculate, without their recorded requests. Amounts (tax_total, lines, jurisdictions) are integer minor units of `currency`.',
      parameters: [
        orgParam,
        queryParam('status', 'calculated, committed, voided or refunded.', { enum: ['calculated', 'committed', 'voided', 'refunded'] }),
        queryParam('kind', 'invoice, credit_note or refund.', { enum: ['invoice', 'credit_note', 'refund'] }),
        queryParam('country', 'Customer country (ISO 3166-1 alpha-2).'),
        queryParam('from', 'Created on or after this date (YYYY-MM-DD, UTC).', { type: 'string', format: 'date' }),
        queryParam('to', 'Created on or before this date (YYYY-MM-DD, UTC).', { type: 'string', format: 'date' }),
        queryParam('limit', '1 to 500 (default 50).', { type: 'integer', minimum: 1, maximum: 500 }),
      ],
      responses: { '200': json({ type: 'object', required: ['data', 'total'], properties: { data: { type: 'array', items: { type: 'object' } }, total: { type: 'integer', description: 'Matches before the limit.' } } }, 'Calculations.'), '404': errorResponse('No such organization.') },
    }),
  },
  '/admin/organizations/{org}/calculate': {
    post: admin({
      tags: ['admin: organizations'],
      summary: 'Calculate tax for the organization as POST /tax_api/calculate_tax does (the console’s calculate form)',
      description: 'The same validation, engine and Sphere-shaped answer as the tax API, recorded in the calculation log with api_key_id "admin"; errors in the tax API’s shape.',
      parameters: [orgParam],
      requestBody: body(ref('CalculateTaxRequest')),
      responses: { '200': json(ref('CalculateTaxResponse'), 'The calculation.'), '404': errorResponse('No such organization.'), '413': errorResponse('Body too large.') },
    }),
  },
  '/admin/organizations/{org}/keys': {
    get: admin({ tags: ['admin: organizations'], summary: 'Tax API keys (never their secrets)', parameters: [orgParam], responses: { '200': json(list(ref('ApiKey')), 'Keys.') } }),
    post: admin({
      tags: ['admin: organizations'],
      summary: 'Create a tax API key (shown once)',
      parameters: [orgParam],
      requestBody: body({ type: 'object', properties: { name: { type: 'string' }, rate_limit_per_second: { type: 'number' } } }, false),
      responses: { '201': json(data(ref('ApiKey')), 'Created; `key` is shown only now.') },
    }),
  },
  '/admin/keys': {
    get: admin({
      tags: ['admin: organizations'],
      summary: 'All tax API keys, or one organization’s (never their secrets)',
      parameters: [queryParam('organization_id', 'Only this organization’s keys.')],
      responses: { '200': json(list(ref('ApiKey')), 'Keys.') },
    }),
  },
  '/admin/keys/{key}': {
    delete: admin({ tags: ['admin: organizations'], summary: 'Revoke a tax API key', parameters: [pathParam('key', 'Key id (key_…) or prefix (tb_test_…).')], responses: { '200': json(data(ref('ApiKey')), 'Revoked.'), '404': errorResponse('Not found.') } }),
  },

  '/admin/connectors': {
    get: admin({ tags: ['admin: connections'], summary: 'Connector specs loaded (and those that failed to load)', responses: { '200': json({ type: 'object', properties: { data: { type: 'array', items: ref('Connector') }, failures: { type: 'array', items: { type: 'object' } } } }, 'Connectors.') } }),
  },
  '/admin/connectors/{connector}/spec': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'The YAML text of a loaded connector spec (the playground starts from it)',
      parameters: [pathParam('connector', 'Connector name, e.g. rillet.')],
      responses: { '200': { description: 'The spec file as loaded.', content: { 'application/yaml': { schema: { type: 'string' } } } }, '404': errorResponse('No such connector loaded.') },
    }),
  },
  '/admin/specs/validate': {
    post: admin({
      tags: ['admin: connections'],
      summary: 'Validate a connector spec text as `taxbridge validate` does (the spec playground)',
      description: 'YAML syntax, local $refs, the connector schema and lint, with each problem’s line and column (1-based), stable code, message and hint. Reads no file and calls no system. At most 256 KiB of YAML; at most 200 diagnostics answered.',
      requestBody: body({ type: 'object', required: ['yaml'], properties: { yaml: { type: 'string', maxLength: 262144 } } }),
      responses: {
        '200': json(data({ type: 'object', required: ['valid', 'errors', 'warnings', 'diagnostics'], properties: { valid: { type: 'boolean' }, errors: { type: 'integer' }, warnings: { type: 'integer' }, truncated: { type: 'boolean' }, diagnostics: { type: 'array', items: { type: 'object', required: ['line', 'column', 'code', 'message', 'severity'], properties: { line: { type: 'integer' }, column: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' }, severity: { enum: ['error', 'warning'] }, path: { type: 'string' } } } }, connector: { type: 'object', properties: { name: { type: 'string' }, title: { type: 'string' }, streams: { type: 'array', items: { type: 'string' } } } } } }), 'The diagnostics (valid with no errors; warnings allowed).'),
      },
    }),
  },
  '/admin/specs/try-mapping': {
    post: admin({
      tags: ['admin: connections'],
      summary: 'Try a stream’s mapping of a connector spec text on one pasted record (the spec playground)',
      description:
        'Validates the spec as /admin/specs/validate does, then maps the record with the sync’s own code (primary_key, deletion.when, mapping with the spec’s definitions.functions, the entity schema), with empty settings and the spec’s first environment. Bounded: 256 KiB of YAML, a record of at most 32 levels and 10000 values, and an evaluation of at most 1 s, 2000 nested steps and 100000 items or characters per value.',
      requestBody: body({ type: 'object', required: ['yaml', 'stream', 'record'], properties: { yaml: { type: 'string', maxLength: 262144 }, stream: { type: 'string', maxLength: 200 }, record: { type: 'object', description: 'One record as the system’s API returns it.' } } }),
      responses: {
        '200': json(data({ type: 'object', required: ['external_id', 'deleted', 'record'], properties: { external_id: { type: 'string' }, deleted: { type: 'boolean' }, record: { type: 'object', description: 'The canonical record (valid against the stream’s entity schema).' } } }), 'The mapped record.'),
        '422': errorResponse('SPEC_INVALID (details.diagnostics: the errors) or MAPPING_FAILED: `param` mapping with details.position (offset in the expression) when an expression failed or ran out of its limits, `param` record when the result is not a valid entity.'),
      },
    }),
  },
  '/admin/connections': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'List connections',
      parameters: [queryParam('organization_id', 'Only this organization’s.'), queryParam('status', 'pending, active, needs_reauthorization or disconnected.', { enum: ['pending', 'active', 'needs_reauthorization', 'disconnected'] })],
      responses: { '200': json(list(ref('Connection')), 'Connections.') },
    }),
    post: admin({
      tags: ['admin: connections'],
      summary: 'Connect a system',
      description:
        'Checks the credentials with the system ("Test credentials"), stores them encrypted and, depending on the connector: registers webhooks by API and returns a tax API key (Sequence), or returns the choices of a setting and the webhook URL to paste, leaving the connection pending until PATCH gives the choice and the signing token (Rillet). A sandbox connection needs a test organization, a production one a live organization.',
      requestBody: body(ref('ConnectRequest')),
      responses: {
        '201': json(data(ref('ConnectResult')), 'Connected (active) or pending (see connection.next_step).'),
        '404': errorResponse('No such organization.'),
        '409': errorResponse('The organization already has this connection.'),
        '422': errorResponse('CONNECTION_BAD_CREDENTIALS: the system refused the credentials.'),
        '502': errorResponse('CONNECTION_UNREACHABLE or WEBHOOK_REGISTRATION_FAILED.'),
      },
    }),
  },
  '/admin/connections/{id}': {
    get: admin({ tags: ['admin: connections'], summary: 'A connection and its status', parameters: [connParam], responses: { '200': json(data(ref('ConnectionStatus')), 'Connection with last syncs, counts, webhooks, write-backs, errors.'), '404': errorResponse('Not found.') } }),
    patch: admin({
      tags: ['admin: connections'],
      summary: 'Continue or change a connection (choose a setting, give the webhook signing token, replace credentials)',
      parameters: [connParam],
      requestBody: body(ref('UpdateConnectionRequest')),
      responses: { '200': json(data(ref('ConnectResult')), 'Updated.'), '404': errorResponse('Not found.'), '409': errorResponse('Disconnected.'), '422': errorResponse('Credentials refused.') },
    }),
    delete: admin({ tags: ['admin: connections'], summary: 'Disconnect: stop schedules and webhooks, revoke the tax key, erase credentials', parameters: [connParam], responses: { '200': json(data(ref('Connection')), 'Disconnected.'), '404': errorResponse('Not found.') } }),
  },
  '/admin/connections/{id}/status/stream': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'The connection’s status as server-sent events (live backfill and sync progress)',
      description:
        'text/event-stream: `event: status` whose `data` is the same JSON as GET /admin/connections/{id} answers (`data`), sent first and then whenever it changes (read every 0.5 s while a backfill or sync runs, every second otherwise); a comment line every 15 s as heartbeat; `event: signed_out` and the end when the console session ends (on any replica); `event: error` and the end when the status cannot be read; `event: closing` at shutdown. At most 4 streams per console session (or for the admin token), 100 in all.',
      parameters: [connParam],
      responses: {
        '200': { description: 'The event stream.', content: { 'text/event-stream': { schema: { type: 'string', description: 'Server-sent events; each `data` line of `event: status` is one ConnectionStatus JSON.' } } } },
        '404': errorResponse('Not found.'),
        '429': errorResponse('Too many open streams for this session (`too_many_streams`); see Retry-After.'),
      },
    }),
  },
  '/admin/connections/{id}/records/{stream}': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'Synced records of a stream (customers, products, invoices, credit notes…), paged and searchable',
      description: 'In external id order. `q` keeps records whose id or mapped data contains it (case-insensitive); a search reads at most 5000 records per request and answers `next_after` to continue. Only the mapped (canonical) record, never the upstream raw one.',
      parameters: [connParam, pathParam('stream', 'Stream name of the connector spec, e.g. invoices.'), queryParam('q', 'Search text (at most 200 characters).'), queryParam('after', 'Continue after this external id (the previous answer’s next_after).'), queryParam('limit', 'Records per page, 1 to 100 (default 25).', { type: 'integer', minimum: 1, maximum: 100 }), queryParam('deleted', 'true: include records deleted upstream.', { enum: ['true', 'false'] })],
      responses: {
        '200': json({ type: 'object', required: ['data'], properties: { data: { type: 'array', items: ref('SyncedRecord') }, next_after: { type: 'string' }, scanned: { type: 'integer' }, counts: { type: 'object', properties: { active: { type: 'integer' }, deleted: { type: 'integer' } } } } }, 'A page of records.'),
        '404': errorResponse('No such connection, or the connection has no such stream.'),
      },
    }),
  },
  '/admin/connections/{id}/records/{stream}/{record}': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'One synced record',
      parameters: [connParam, pathParam('stream', 'Stream name, e.g. invoices.'), pathParam('record', 'The record’s id in the system (external id).')],
      responses: { '200': json(data(ref('SyncedRecord')), 'The record.'), '404': errorResponse('Not found.') },
    }),
  },
  '/admin/connections/{id}/choices/{setting}': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'Choices of a setting (e.g. Rillet subsidiaries), read now',
      parameters: [connParam, pathParam('setting', 'Setting name, e.g. subsidiary_id.')],
      responses: { '200': json(list({ type: 'object', properties: { value: {}, label: { type: 'string' } } }), 'Choices.'), '404': errorResponse('Not found.') },
    }),
  },
  '/admin/connections/{id}/reauthorize': {
    post: admin({
      tags: ['admin: connections'],
      summary: 'A new OAuth authorization URL for a connection',
      description: 'For OAuth connectors (auth oauth2_authorization_code): a new single-use consent link (older links stop working). A connection in needs_reauthorization is active again once the consent completes at /oauth/callback; waiting write-backs then proceed.',
      parameters: [connParam],
      responses: { '200': json(data(ref('ConnectResult')), 'The connection and authorization_url.'), '404': errorResponse('Not found.'), '409': errorResponse('Disconnected, not an OAuth connection, or no OAuth app configured for the connector.') },
    }),
  },
  '/admin/connections/{id}/sync': {
    post: admin({
      tags: ['admin: connections'],
      summary: 'Start a sync now',
      parameters: [connParam],
      requestBody: body({ type: 'object', properties: { streams: { type: 'array', items: { type: 'string' } }, full: { type: 'boolean' } } }, false),
      responses: { '202': json(data({ type: 'object', properties: { run_id: { type: 'string', description: 'Follow it at /admin/connections/{id}/syncs/{run_id}.' }, connection_id: { type: 'string' }, streams: { type: 'array', items: { type: 'string' } }, full: { type: 'boolean' }, started_at: { type: 'string', format: 'date-time' } } }), 'Started in the background.'), '404': errorResponse('Not found.'), '409': errorResponse('Not active, or a sync is already running.') },
    }),
  },
  '/admin/connections/{id}/syncs/{run}': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'A sync started through the API: queued, running with its progress, then its summaries',
      description: '`taxbridge sync --connection <id>` polls this to show the server\'s run live until it ends.',
      parameters: [connParam, pathParam('run', 'The run_id POST .../sync answered.')],
      responses: { '200': json(data(ref('SyncRun')), 'The run.'), '404': errorResponse('No such connection, or no such run remembered (the server forgets runs when it restarts).') },
    }),
  },

  '/admin/events': {
    get: admin({
      tags: ['admin: webhooks'],
      summary: 'Webhook events and their outcomes',
      parameters: [queryParam('connection', 'Connection id.'), queryParam('status', 'pending, retrying, processed, ignored, failed (comma-separated).'), queryParam('type', 'Event type.'), queryParam('limit', 'Default 100.', { type: 'integer' })],
      responses: { '200': json(list(ref('WebhookEvent')), 'Events, newest first.') },
    }),
  },
  '/admin/webhooks/unrouted': {
    get: admin({
      tags: ['admin: webhooks'],
      summary: 'Webhook events no connection’s tenant matched (count and the most recent)',
      parameters: [queryParam('connector', 'Connector name (required).'), queryParam('limit', 'Recent events shown, default 100 (at most 100).', { type: 'integer' })],
      responses: { '200': json(data({ type: 'object', properties: { connector: { type: 'string' }, count: { type: 'integer' }, recent: { type: 'array', items: { type: 'object' } } } }), 'Unrouted events.'), '400': errorResponse('connector missing.') },
    }),
  },
  '/admin/webhooks/refused': {
    get: admin({
      tags: ['admin: webhooks'],
      summary: 'Refused webhook deliveries (bad signature, unknown URL, too large, not JSON ...): count and the most recent, with their code',
      description: 'For one connection (`connection`), one connector’s shared URL (`connector`), or, with neither, every unknown webhook URL together. Never bodies, header values or secrets.',
      parameters: [queryParam('connection', 'Connection id.'), queryParam('connector', 'Connector name (its shared webhook URL).'), queryParam('limit', 'Recent refusals shown, default 100 (at most 100).', { type: 'integer' })],
      responses: { '200': json(data(ref('EntityWebhookRefused')), 'Refused deliveries, newest first.'), '404': errorResponse('No such connection.') },
    }),
  },
  '/admin/events/{id}': {
    get: admin({ tags: ['admin: webhooks'], summary: 'One event with its stored headers and body', parameters: [pathParam('id', 'Event id.')], responses: { '200': json(data(ref('WebhookEvent')), 'The event.'), '404': errorResponse('Not found.') } }),
  },
  '/admin/events/{id}/replay': {
    post: admin({ tags: ['admin: webhooks'], summary: 'Process an event again', parameters: [pathParam('id', 'Event id.')], responses: { '202': json(data(ref('WebhookEvent')), 'Queued.'), '404': errorResponse('Not found.') } }),
  },
  '/admin/writebacks': {
    get: admin({
      tags: ['admin: webhooks'],
      summary: 'Tax write-back jobs (dead letters with dead=true)',
      parameters: [queryParam('connection', 'Connection id.'), queryParam('status', 'Job statuses (comma-separated).'), queryParam('dead', 'true: dead letters only.'), queryParam('document', 'Document id.'), queryParam('limit', 'Default 100.', { type: 'integer' })],
      responses: { '200': json(list(ref('WritebackJob')), 'Jobs, newest first.') },
    }),
  },
  '/admin/writebacks/{id}': {
    get: admin({ tags: ['admin: webhooks'], summary: 'One write-back job with its tax', parameters: [pathParam('id', 'Job id.')], responses: { '200': json(data(ref('WritebackJob')), 'The job.'), '404': errorResponse('Not found.') } }),
  },
  '/admin/writebacks/{id}/replay': {
    post: admin({ tags: ['admin: webhooks'], summary: 'Run a (dead) job again', parameters: [pathParam('id', 'Job id.')], responses: { '200': json(data(ref('WritebackJob')), 'Run again.'), '404': errorResponse('Not found.') } }),
  },
};

export function openApiDocument(opts: { version: string; serverUrl?: string }): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'taxbridge',
      version: opts.version,
      description:
        'One process: the Sphere-compatible tax API (X-API-KEY), the admin API (Authorization: Bearer <admin token>), the webhook receiver and health checks. Every error is a JSON body with a stable `code`.',
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    tags: [
      { name: 'health' },
      { name: 'operations', description: 'Metrics for monitoring (admin or metrics token).' },
      { name: 'tax', description: 'Called by billing systems with a tax API key.' },
      { name: 'webhooks', description: 'Signed deliveries from connected systems.' },
      { name: 'oauth', description: 'The redirect back from a system after OAuth consent (public, authenticated by its single-use state).' },
      { name: 'console', description: 'The web console and its sign-in session.' },
      { name: 'admin: organizations' },
      { name: 'admin: connections' },
      { name: 'admin: webhooks', description: 'Events and tax write-back.' },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-KEY', description: 'A tax API key (tb_test_… / tb_live_…).' },
        apiKeyBearer: { type: 'http', scheme: 'bearer', description: 'The tax API key as a bearer token.' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token (TAXBRIDGE_ADMIN_TOKEN, or the one printed at first start).' },
        consoleSession: { type: 'apiKey', in: 'cookie', name: 'tb_console', description: 'A web console session (POST /console/session); HttpOnly, SameSite=Strict.' },
        consoleCsrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: 'The session’s CSRF token, required with the session cookie on POST, PUT, PATCH and DELETE; such requests from another origin are refused (403 csrf_refused).' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'The metrics token (TAXBRIDGE_METRICS_TOKEN or metrics_token_file): opens GET /metrics only.' },
      },
    },
  };
}
