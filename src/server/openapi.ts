/**
 * The OpenAPI 3.1 description of everything `taxbridge serve` answers, served at GET /openapi.json. The
 * operations (summaries, parameters, which status answers what) are written here; every request and answer
 * shape is a $ref to a component built from the JSON Schema files (schemas/tax-api/, schemas/admin-api/,
 * schemas/entities/). test/serve-http.test.ts fails when a mounted route is missing here (or the other way
 * round); test/admin-api-wire-schemas.test.ts checks real answers of every route against these schemas.
 */

import { openApiComponents } from '../wire-schemas.ts';

type Schema = Record<string, unknown>;
type Op = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
const errorResponse = (description: string) => json(ref('ApiError'), description);
const body = (schema: Schema, required = true) => ({ required, content: { 'application/json': { schema } } });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });

const adminErrors = {
  '401': errorResponse('Missing or wrong admin token (`unauthorized_access`).'),
  '400': errorResponse('Invalid input: the `code` says what (e.g. `validation_errors`, `connection_input`; lower snake_case everywhere, docs/errors.md) and `param` where.'),
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

// Every shape is a component made from its schema file (src/wire-schemas.ts): nothing is written here twice.
const schemas: Record<string, Schema> = { ...openApiComponents('tax-api'), ...openApiComponents('admin-api'), ...openApiComponents('entities') };

/** The query parameters of an operation from its schema component (one property per parameter). */
function queryParams(component: string): Op[] {
  const c = schemas[component] as { properties?: Record<string, Schema>; required?: string[] } | undefined;
  if (!c?.properties) throw new Error(`no query component ${component}`);
  return Object.entries(c.properties).map(([name, p]) => ({
    name,
    in: 'query',
    required: c.required?.includes(name) ?? false,
    schema: { $ref: `#/components/schemas/${component}/properties/${name}` },
    // A list is one parameter, its values comma-separated (status=pending,failed).
    ...(p.type === 'array' ? { style: 'form', explode: false } : {}),
    ...(typeof p.description === 'string' ? { description: p.description } : {}),
  }));
}

const orgParam = pathParam('org', 'Organization id.');
const connParam = pathParam('id', 'Connection id.');

const paths: Record<string, Record<string, Op>> = {
  '/healthz': { get: { tags: ['health'], summary: 'The process is up', responses: { '200': json(ref('ServerHealth'), 'Up.') } } },
  '/readyz': {
    get: {
      tags: ['health'],
      summary: 'The process can work: store open, specs loaded, workers running',
      responses: {
        '200': json(ref('ServerReadiness'), 'Ready.'),
        '503': json(ref('ServerReadiness'), 'Not ready (starting or shutting down); `checks` says which part.'),
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
      requestBody: body(ref('WebhooksInvoiceTaxRequest')),
      responses: {
        '200': json(ref('WebhooksInvoiceTaxResult'), 'Done.'),
        '202': json(ref('WebhooksInvoiceTaxResult'), 'The system is failing; the job retries in the background.'),
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
        '200': json(ref('ServerWebhookReceipt'), 'Stored (or a duplicate, acknowledged); `events` with fan-out, `unrouted` for events of another tenant.'),
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
        '200': json(ref('ServerWebhookReceipt'), 'Stored: `events` for connections, `unrouted` acknowledged for none.'),
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
        ...queryParams('ServerOauthCallbackQuery'),
      ],
      responses: {
        '200': { description: 'Authorized: the connection continues.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('ServerOauthCallbackResult') } } },
        '400': { description: 'Malformed callback, unknown state (replaced by a newer link or never issued), or the authorization failed.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('ServerOauthCallbackResult') } } },
        '403': { description: 'Consent denied (error=access_denied).', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('ServerOauthCallbackResult') } } },
        '409': { description: 'The state was already used, or a re-authorization came back for another account.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('ServerOauthCallbackResult') } } },
        '410': { description: 'The authorization link expired, or its connection was disconnected.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('ServerOauthCallbackResult') } } },
        '502': { description: 'The system’s token endpoint failed.', content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref('ServerOauthCallbackResult') } } },
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
      requestBody: body(ref('ServerConsoleSessionRequest')),
      responses: {
        '201': json(ref('ServerConsoleSession'), 'Signed in; Set-Cookie carries the session.'),
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
      responses: { '200': json(ref('ServerConsoleSession'), 'Signed in.'), '401': errorResponse('No live session.') },
    },
    delete: {
      tags: ['console'],
      summary: 'Sign out (needs X-CSRF-Token)',
      security: [{ consoleSession: [], consoleCsrf: [] }],
      responses: { '204': { description: 'Signed out; the cookie is cleared.' }, '403': errorResponse('Missing CSRF token or cross-site.') },
    },
  },

  '/admin/organizations': {
    get: admin({ tags: ['admin: organizations'], summary: 'List organizations', responses: { '200': json(ref('OrganizationsOrganizationList'), 'Organizations.') } }),
    post: admin({
      tags: ['admin: organizations'],
      summary: 'Create an organization',
      requestBody: body(ref('OrganizationsCreateRequest')),
      responses: { '201': json(ref('OrganizationsOrganizationAnswer'), 'Created.') },
    }),
  },
  '/admin/organizations/{org}': {
    get: admin({ tags: ['admin: organizations'], summary: 'One organization', parameters: [orgParam], responses: { '200': json(ref('OrganizationsOrganizationAnswer'), 'The organization.'), '404': errorResponse('Not found.') } }),
    patch: admin({
      tags: ['admin: organizations'],
      summary: 'Change an organization',
      parameters: [orgParam],
      requestBody: body(ref('OrganizationsUpdateRequest')),
      responses: { '200': json(ref('OrganizationsOrganizationAnswer'), 'Changed.'), '404': errorResponse('Not found.') },
    }),
  },
  '/admin/organizations/{org}/registrations': {
    get: admin({ tags: ['admin: organizations'], summary: 'Registrations (subscribed regions)', parameters: [orgParam], responses: { '200': json(ref('OrganizationsRegistrationList'), 'Registrations.') } }),
    post: admin({
      tags: ['admin: organizations'],
      summary: 'Add a registration',
      parameters: [orgParam],
      requestBody: body(ref('OrganizationsRegistrationRequest')),
      responses: { '201': json(ref('OrganizationsRegistrationAnswer'), 'Added.'), '409': errorResponse('Already registered there.') },
    }),
  },
  '/admin/organizations/{org}/registrations/{reg}': {
    patch: admin({
      tags: ['admin: organizations'],
      summary: 'Switch tax calculation on/off or change the effective date',
      parameters: [orgParam, pathParam('reg', 'Registration id or "US-TX" / "DE".')],
      requestBody: body(ref('OrganizationsRegistrationUpdateRequest')),
      responses: { '200': json(ref('OrganizationsRegistrationAnswer'), 'Changed.'), '404': errorResponse('Not found.') },
    }),
    delete: admin({ tags: ['admin: organizations'], summary: 'Remove a registration', parameters: [orgParam, pathParam('reg', 'Registration id or "US-TX" / "DE".')], responses: { '204': { description: 'Removed.' }, '404': errorResponse('Not found.') } }),
  },
  '/admin/organizations/{org}/product_tax_codes': {
    get: admin({ tags: ['admin: organizations'], summary: 'Product tax codes', parameters: [orgParam], responses: { '200': json(ref('OrganizationsProductTaxCodesAnswer'), 'Default and per-product codes.') } }),
    post: admin({
      tags: ['admin: organizations'],
      summary: 'Set a product’s tax code',
      parameters: [orgParam],
      requestBody: body(ref('OrganizationsProductTaxCodeRequest')),
      responses: { '200': json(ref('OrganizationsProductTaxCodeAnswer'), 'Set.') },
    }),
    delete: admin({
      tags: ['admin: organizations'],
      summary: 'Remove a product’s tax code',
      parameters: [orgParam, ...queryParams('OrganizationsProductTaxCodeDeleteQuery')],
      responses: { '204': { description: 'Removed.' }, '404': errorResponse('Not found.') },
    }),
  },
  '/admin/organizations/{org}/calculations': {
    get: admin({
      tags: ['admin: organizations'],
      summary: 'The organization’s tax calculation log, newest first',
      description: 'Recorded calculations of the tax API and of POST /admin/organizations/{org}/calculate, without their recorded requests. Amounts (tax_total, lines, jurisdictions) are integer minor units of `currency`.',
      parameters: [orgParam, ...queryParams('OrganizationsCalculationsQuery')],
      responses: { '200': json(ref('OrganizationsCalculationLog'), 'Calculations.'), '404': errorResponse('No such organization.') },
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
    get: admin({ tags: ['admin: organizations'], summary: 'Tax API keys (never their secrets)', parameters: [orgParam], responses: { '200': json(ref('OrganizationsApiKeyList'), 'Keys.') } }),
    post: admin({
      tags: ['admin: organizations'],
      summary: 'Create a tax API key (shown once)',
      parameters: [orgParam],
      requestBody: body(ref('OrganizationsKeyCreateRequest'), false),
      responses: { '201': json(ref('OrganizationsApiKeyAnswer'), 'Created; `key` is shown only now.') },
    }),
  },
  '/admin/keys': {
    get: admin({
      tags: ['admin: organizations'],
      summary: 'All tax API keys, or one organization’s (never their secrets)',
      parameters: [...queryParams('OrganizationsKeyListQuery')],
      responses: { '200': json(ref('OrganizationsApiKeyList'), 'Keys.') },
    }),
  },
  '/admin/keys/{key}': {
    delete: admin({ tags: ['admin: organizations'], summary: 'Revoke a tax API key', parameters: [pathParam('key', 'Key id (key_…) or prefix (tb_test_…).')], responses: { '200': json(ref('OrganizationsApiKeyAnswer'), 'Revoked.'), '404': errorResponse('Not found.') } }),
  },

  '/admin/connectors': {
    get: admin({ tags: ['admin: connections'], summary: 'Connector specs loaded (and those that failed to load)', responses: { '200': json(ref('ConnectionsConnectorsAnswer'), 'Connectors.') } }),
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
      requestBody: body(ref('SpecsValidateRequest')),
      responses: {
        '200': json(ref('SpecsValidation'), 'The diagnostics (valid with no errors; warnings allowed).'),
      },
    }),
  },
  '/admin/specs/try-mapping': {
    post: admin({
      tags: ['admin: connections'],
      summary: 'Try a stream’s mapping of a connector spec text on one pasted record (the spec playground)',
      description:
        'Validates the spec as /admin/specs/validate does, then maps the record with the sync’s own code (primary_key, deletion.when, mapping with the spec’s definitions.functions, the entity schema), with empty settings and the spec’s first environment. Bounded: 256 KiB of YAML, a record of at most 32 levels and 10000 values, and an evaluation of at most 1 s, 2000 nested steps and 100000 items or characters per value.',
      requestBody: body(ref('SpecsTryMappingRequest')),
      responses: {
        '200': json(ref('SpecsMapping'), 'The mapped record.'),
        '422': errorResponse('SPEC_INVALID (details.diagnostics: the errors) or MAPPING_FAILED: `param` mapping with details.position (offset in the expression) when an expression failed or ran out of its limits, `param` record when the result is not a valid entity.'),
      },
    }),
  },
  '/admin/connections': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'List connections',
      parameters: [...queryParams('ConnectionsListQuery')],
      responses: { '200': json(ref('ConnectionsConnectionList'), 'Connections.') },
    }),
    post: admin({
      tags: ['admin: connections'],
      summary: 'Connect a system',
      description:
        'Checks the credentials with the system ("Test credentials"), stores them encrypted and, depending on the connector: registers webhooks by API and returns a tax API key (Sequence), or returns the choices of a setting and the webhook URL to paste, leaving the connection pending until PATCH gives the choice and the signing token (Rillet). A sandbox connection needs a test organization, a production one a live organization.',
      requestBody: body(ref('ConnectionsConnectRequest')),
      responses: {
        '201': json(ref('ConnectionsConnectAnswer'), 'Connected (active) or pending (see connection.next_step).'),
        '404': errorResponse('No such organization.'),
        '409': errorResponse('The organization already has this connection.'),
        '422': errorResponse('CONNECTION_BAD_CREDENTIALS: the system refused the credentials.'),
        '502': errorResponse('CONNECTION_UNREACHABLE or WEBHOOK_REGISTRATION_FAILED.'),
      },
    }),
  },
  '/admin/connections/{id}': {
    get: admin({ tags: ['admin: connections'], summary: 'A connection and its status', parameters: [connParam], responses: { '200': json(ref('ConnectionsStatusAnswer'), 'Connection with last syncs, counts, webhooks, write-backs, errors.'), '404': errorResponse('Not found.') } }),
    patch: admin({
      tags: ['admin: connections'],
      summary: 'Continue or change a connection (choose a setting, give the webhook signing token, replace credentials)',
      parameters: [connParam],
      requestBody: body(ref('ConnectionsUpdateRequest')),
      responses: { '200': json(ref('ConnectionsConnectAnswer'), 'Updated.'), '404': errorResponse('Not found.'), '409': errorResponse('Disconnected.'), '422': errorResponse('Credentials refused.') },
    }),
    delete: admin({ tags: ['admin: connections'], summary: 'Disconnect: stop schedules and webhooks, revoke the tax key, erase credentials', parameters: [connParam], responses: { '200': json(ref('ConnectionsConnectionAnswer'), 'Disconnected.'), '404': errorResponse('Not found.') } }),
  },
  '/admin/connections/{id}/status/stream': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'The connection’s status as server-sent events (live backfill and sync progress)',
      description:
        'text/event-stream: `event: status` whose `data` is the same JSON as GET /admin/connections/{id} answers (`data`), sent first and then whenever it changes (read every 0.5 s while a backfill or sync runs, every second otherwise); a comment line every 15 s as heartbeat; `event: signed_out` and the end when the console session ends (on any replica); `event: error` and the end when the status cannot be read; `event: closing` at shutdown. At most 4 streams per console session (or for the admin token), 100 in all.',
      parameters: [connParam],
      responses: {
        '200': { description: 'The event stream.', content: { 'text/event-stream': { schema: { type: 'string', description: 'Server-sent events; each `data` line of `event: status` is one ConnectionsStatus JSON.' } } } },
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
      parameters: [connParam, pathParam('stream', 'Stream name of the connector spec, e.g. invoices.'), ...queryParams('RecordsPageQuery')],
      responses: {
        '200': json(ref('RecordsPage'), 'A page of records.'),
        '404': errorResponse('No such connection, or the connection has no such stream.'),
      },
    }),
  },
  '/admin/connections/{id}/records/{stream}/{record}': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'One synced record',
      parameters: [connParam, pathParam('stream', 'Stream name, e.g. invoices.'), pathParam('record', 'The record’s id in the system (external id).')],
      responses: { '200': json(ref('RecordsRecordAnswer'), 'The record.'), '404': errorResponse('Not found.') },
    }),
  },
  '/admin/connections/{id}/choices/{setting}': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'Choices of a setting (e.g. Rillet subsidiaries), read now',
      parameters: [connParam, pathParam('setting', 'Setting name, e.g. subsidiary_id.')],
      responses: { '200': json(ref('ConnectionsChoicesAnswer'), 'Choices.'), '404': errorResponse('Not found.') },
    }),
  },
  '/admin/connections/{id}/reauthorize': {
    post: admin({
      tags: ['admin: connections'],
      summary: 'A new OAuth authorization URL for a connection',
      description: 'For OAuth connectors (auth oauth2_authorization_code): a new single-use consent link (older links stop working). A connection in needs_reauthorization is active again once the consent completes at /oauth/callback; waiting write-backs then proceed.',
      parameters: [connParam],
      responses: { '200': json(ref('ConnectionsConnectAnswer'), 'The connection and authorization_url.'), '404': errorResponse('Not found.'), '409': errorResponse('Disconnected, not an OAuth connection, or no OAuth app configured for the connector.') },
    }),
  },
  '/admin/connections/{id}/sync': {
    post: admin({
      tags: ['admin: connections'],
      summary: 'Start a sync now',
      parameters: [connParam],
      requestBody: body(ref('ConnectionsSyncRequest'), false),
      responses: { '202': json(ref('ConnectionsSyncStartedAnswer'), 'Started in the background.'), '404': errorResponse('Not found.'), '409': errorResponse('Not active, or a sync is already running.') },
    }),
  },
  '/admin/connections/{id}/syncs/{run}': {
    get: admin({
      tags: ['admin: connections'],
      summary: 'A sync started through the API: queued, running with its progress, then its summaries',
      description: '`taxbridge sync --connection <id>` polls this to show the server\'s run live until it ends.',
      parameters: [connParam, pathParam('run', 'The run_id POST .../sync answered.')],
      responses: { '200': json(ref('ConnectionsSyncRunAnswer'), 'The run.'), '404': errorResponse('No such connection, or no such run remembered (the server forgets runs when it restarts).') },
    }),
  },

  '/admin/events': {
    get: admin({
      tags: ['admin: webhooks'],
      summary: 'Webhook events and their outcomes',
      parameters: [...queryParams('WebhooksEventsQuery')],
      responses: { '200': json(ref('WebhooksEventList'), 'Events, newest first.') },
    }),
  },
  '/admin/webhooks/unrouted': {
    get: admin({
      tags: ['admin: webhooks'],
      summary: 'Webhook events no connection’s tenant matched (count and the most recent)',
      parameters: [...queryParams('WebhooksUnroutedQuery')],
      responses: { '200': json(ref('WebhooksUnrouted'), 'Unrouted events.'), '400': errorResponse('connector missing.') },
    }),
  },
  '/admin/webhooks/refused': {
    get: admin({
      tags: ['admin: webhooks'],
      summary: 'Refused webhook deliveries (bad signature, unknown URL, too large, not JSON ...): count and the most recent, with their code',
      description: 'For one connection (`connection`), one connector’s shared URL (`connector`), or, with neither, every unknown webhook URL together. Never bodies, header values or secrets.',
      parameters: [...queryParams('WebhooksRefusedQuery')],
      responses: { '200': json(ref('WebhooksRefused'), 'Refused deliveries, newest first.'), '404': errorResponse('No such connection.') },
    }),
  },
  '/admin/events/{id}': {
    get: admin({ tags: ['admin: webhooks'], summary: 'One event with its stored headers and body', parameters: [pathParam('id', 'Event id.')], responses: { '200': json(ref('WebhooksEventAnswer'), 'The event.'), '404': errorResponse('Not found.') } }),
  },
  '/admin/events/{id}/replay': {
    post: admin({ tags: ['admin: webhooks'], summary: 'Process an event again', parameters: [pathParam('id', 'Event id.')], responses: { '202': json(ref('WebhooksEventSummaryAnswer'), 'Queued.'), '404': errorResponse('Not found.') } }),
  },
  '/admin/writebacks': {
    get: admin({
      tags: ['admin: webhooks'],
      summary: 'Tax write-back jobs (dead letters with dead=true)',
      parameters: [...queryParams('WebhooksWritebacksQuery')],
      responses: { '200': json(ref('WebhooksJobList'), 'Jobs, newest first.') },
    }),
  },
  '/admin/writebacks/{id}': {
    get: admin({ tags: ['admin: webhooks'], summary: 'One write-back job with its tax', parameters: [pathParam('id', 'Job id.')], responses: { '200': json(ref('WebhooksJobAnswer'), 'The job.'), '404': errorResponse('Not found.') } }),
  },
  '/admin/writebacks/{id}/replay': {
    post: admin({ tags: ['admin: webhooks'], summary: 'Run a (dead) job again', parameters: [pathParam('id', 'Job id.')], responses: { '200': json(ref('WebhooksJobSummaryAnswer'), 'Run again.'), '404': errorResponse('Not found.') } }),
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
