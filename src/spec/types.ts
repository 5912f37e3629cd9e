/**
 * TypeScript view of a validated connector spec. schemas/connector.schema.json is the source of truth;
 * these types mirror it ($defs names in comments) and test/spec-types.test.ts fails when a property is
 * added to one and not the other.
 */

/** JSONata source (no braces). */
export type ExpressionSource = string;
/** Any JSON value whose strings may embed `{{ JSONata }}`. */
export type TemplateValue = unknown;

export type EntityName = 'customer' | 'product' | 'invoice' | 'credit_note' | 'subsidiary';

/** $defs/credential */
export interface CredentialSpec {
  name: string;
  title: string;
  description?: string;
  secret?: boolean;
  required?: boolean;
  pattern?: string;
  generated?: 'whsec' | 'hex32';
}

/** $defs/setting */
export interface SettingSpec {
  name: string;
  title: string;
  description?: string;
  type?: 'string' | 'integer' | 'boolean';
  required?: boolean;
  default?: string | number | boolean;
  /** Required for settings a templated base URL uses. */
  pattern?: string;
  choices_from?: { stream: string; value?: ExpressionSource; label?: ExpressionSource };
}

/** $defs/auth */
export type AuthSpec =
  | { type: 'none' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | { type: 'api_key'; in: 'header' | 'query'; name: string; value: string }
  | {
      type: 'oauth2_client_credentials';
      token_url: string;
      client_id: string;
      client_secret: string;
      scopes?: string[];
      audience?: string;
      client_auth?: 'basic' | 'body';
      refresh_margin_seconds?: number;
    }
  | OAuth2CodeAuthSpec;

/** $defs/auth_oauth2_code */
export interface OAuth2CodeAuthSpec {
  type: 'oauth2_authorization_code';
  authorize_url: string;
  token_url: string;
  revoke_url?: string;
  revoke_body?: 'form' | 'json';
  scopes?: string[];
  scope_separator?: string;
  authorize_params?: Record<string, string>;
  pkce?: boolean;
  client_auth?: 'basic' | 'body';
  refresh_margin_seconds?: number;
  default_expires_in_seconds?: number;
  settings_from_redirect?: Record<string, string>;
  settings_from_token?: Record<string, string>;
}

/** $defs/retry */
export interface RetrySpec {
  statuses?: number[];
  max_attempts?: number;
  initial_delay_ms?: number;
  max_delay_ms?: number;
  respect_retry_after?: boolean;
  network_errors?: boolean;
}

/** $defs/http */
export interface HttpSpec {
  headers?: Record<string, string>;
  timeout_ms?: number;
  retry?: RetrySpec;
  rate_limit?: { requests: number; per_seconds: number };
  auth_error_statuses?: number[];
  error_message?: ExpressionSource;
  max_concurrency?: number;
  query?: Record<string, TemplateValue>;
  body_encoding?: BodyEncodingSpec;
  form?: FormStyleSpec;
}

/** How a request body is written on the wire (request.body_encoding, http.body_encoding). */
export type BodyEncodingSpec = 'json' | 'form' | 'text';

/** $defs/form_style: how nested values become form keys. */
export interface FormStyleSpec {
  arrays?: 'indexed' | 'index_last' | 'brackets' | 'repeat';
  nulls?: 'omit' | 'empty';
  empty_strings?: 'keep' | 'omit';
  empty_arrays?: 'omit' | 'empty';
  booleans?: 'true_false' | 'one_zero';
}

/** $defs/request */
export interface RequestSpec {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, TemplateValue>;
  headers?: Record<string, string>;
  body?: TemplateValue;
  body_encoding?: BodyEncodingSpec;
  form?: FormStyleSpec;
  idempotency_key?: boolean | string | { vary_by: string };
  idempotency_header?: string;
  ok_statuses?: number[];
}

export interface PageSizeSpec {
  /** Absent: the size reaches the request through templates (`page_size`) only. */
  param?: string;
  value: number;
}

interface PaginationCommon {
  page_size?: PageSizeSpec;
  stop_when?: ExpressionSource;
  max_pages?: number;
}

/** $defs/pagination */
export type PaginationSpec =
  | { type: 'none' }
  | ({ type: 'cursor'; cursor: ExpressionSource; param: string; in?: 'query' | 'body' } & PaginationCommon)
  | ({ type: 'page_number'; param?: string; start?: number } & PaginationCommon)
  | ({ type: 'offset'; param: string; page_size: PageSizeSpec } & Omit<PaginationCommon, 'page_size'>)
  | ({ type: 'link_header'; rel?: string } & PaginationCommon)
  | ({ type: 'next_url'; next_url: ExpressionSource } & PaginationCommon);

/** $defs/child */
export interface ChildSpec {
  name: string;
  request: RequestSpec;
  records: ExpressionSource;
  pagination?: PaginationSpec;
  when?: ExpressionSource;
}

/** $defs/incremental */
export interface IncrementalSpec {
  cursor_field: ExpressionSource;
  param?: string;
  format?: CursorFormatName;
  lookback_seconds?: number;
  initial?: string | number;
}

/** How a cursor is read and rendered ($defs/incremental.format). */
export type CursorFormatName = 'iso8601' | 'iso8601_seconds' | 'unix_seconds' | 'unix_ms' | 'date';

/** $defs/change_feed */
export interface ChangeFeedSpec {
  request: RequestSpec;
  records: ExpressionSource;
  pagination?: PaginationSpec;
  event_id?: ExpressionSource;
  event_time: ExpressionSource;
  format?: CursorFormatName;
  object: ExpressionSource;
  delete_when?: ExpressionSource;
  when?: ExpressionSource;
  lookback_seconds?: number;
}

/** $defs/schedule */
export interface ScheduleSpec {
  cron: string;
  timezone?: string;
  mode?: 'incremental' | 'full';
}

/** $defs/stream */
export interface StreamSpec {
  entity: EntityName;
  description?: string;
  request: RequestSpec;
  records: ExpressionSource;
  pagination?: PaginationSpec;
  primary_key?: ExpressionSource;
  children?: ChildSpec[];
  incremental?: IncrementalSpec;
  change_feed?: ChangeFeedSpec;
  mapping: ExpressionSource;
  deletion?: { when?: ExpressionSource; absent_in_full_sync?: boolean };
  fetch?: { request: RequestSpec; record?: ExpressionSource };
  schedule?: ScheduleSpec;
  schedules?: ScheduleSpec[];
}

/** $defs/signature_format */
export type SignatureFormatSpec =
  | { type: 'plain' }
  | { type: 'list'; separator: ',' | ' '; prefix?: string }
  | { type: 'key_value'; pair_separator?: string; signature_key: string; timestamp_key?: string };

/** $defs/signature */
export interface SignatureSpec {
  preset?: 'standard_webhooks';
  secret: string;
  algorithm?: 'sha1' | 'sha256' | 'sha512';
  key_encoding?: 'utf8' | 'base64' | 'whsec';
  header?: string;
  format?: SignatureFormatSpec;
  encoding?: 'hex' | 'base64';
  signed_content?: string;
  timestamp?: { from?: ExpressionSource; unit?: 'seconds' | 'milliseconds' | 'iso8601'; tolerance_seconds?: number };
}

export type WebhookAction = 'upsert' | 'refetch' | 'delete' | 'payment_status' | 'ignore';

/** $defs/webhook_event */
export interface WebhookEventSpec {
  on: string | string[];
  action: WebhookAction;
  stream?: string;
  record?: ExpressionSource;
  id?: ExpressionSource;
  payment_status?: ExpressionSource;
  writeback?: boolean;
  when?: ExpressionSource;
}

/** $defs/webhook_authentication */
export type WebhookAuthenticationSpec =
  | { type: 'hmac' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'token'; in: 'header' | 'query'; name: string; prefix?: string; value: string }
  | { type: 'none'; reason: string };

/** $defs/webhooks */
export interface WebhooksSpec {
  authentication?: WebhookAuthenticationSpec;
  /** Required unless `authentication` names another type than hmac (lint). */
  signature?: SignatureSpec;
  url?: 'per_connection' | 'per_connector';
  tenant?: ExpressionSource;
  tenant_setting?: string;
  for_each?: ExpressionSource;
  max_events?: number;
  event_type: ExpressionSource;
  event_id?: ExpressionSource;
  max_body_bytes?: number;
  body_encoding?: 'json' | 'form';
  events: WebhookEventSpec[];
  registration?: { request: RequestSpec; secret_credential?: string; secret?: ExpressionSource; id?: ExpressionSource; unregister?: RequestSpec };
}

/** What may start a write-back (writeback_target.trigger). */
export type WritebackTrigger = 'webhook' | 'sync' | 'api';

/** $defs/writeback_target */
export interface WritebackTargetSpec {
  stream: string;
  trigger?: WritebackTrigger[];
  when?: ExpressionSource;
  read?: { request: RequestSpec; save_as: SaveAsSpec };
  conflict?: { statuses?: number[]; when?: ExpressionSource; max_retries?: number };
  requests: Array<{ for_each?: ExpressionSource; request: RequestSpec; save_as?: SaveAsSpec }>;
}

/** $defs/save_as: name -> JSONata over a response `{status, headers, body}`. */
export type SaveAsSpec = Record<string, ExpressionSource>;

/** The `definitions` section: shared fragments for `$ref`, plus the spec's functions and exponent overrides. */
export interface DefinitionsSpec {
  functions?: Record<string, ExpressionSource>;
  currency_exponents?: Record<string, number>;
  [fragment: string]: unknown;
}

/** The root of schemas/connector.schema.json. */
export interface ConnectorSpec {
  spec_version: 1;
  name: string;
  title: string;
  description?: string;
  docs_url?: string;
  category?: 'billing' | 'accounting' | 'commerce' | 'other';
  calls_tax_api?: boolean;
  environments: { production: { base_url: string; description?: string }; sandbox?: { base_url: string; description?: string } };
  credentials?: CredentialSpec[];
  settings?: SettingSpec[];
  auth: AuthSpec;
  http?: HttpSpec;
  check?: { request: RequestSpec; success?: ExpressionSource };
  definitions?: DefinitionsSpec;
  streams: Record<string, StreamSpec>;
  webhooks?: WebhooksSpec;
  writeback?: { invoice?: WritebackTargetSpec; credit_note?: WritebackTargetSpec };
}

export type EnvironmentName = 'production' | 'sandbox';

/**
 * What a running connection gives the spec's templates: `credentials.<name>`, `settings.<name>`, `environment`.
 * Request templates see these plus call-specific values (`parent`, `id`, `cursor`, `item`, `webhook`...).
 */
export interface ConnectionContext {
  connection_id: string;
  environment: EnvironmentName;
  /** Overrides the spec's base URL for the environment (fakes, proxies). */
  base_url?: string;
  credentials: Record<string, string | undefined>;
  settings: Record<string, unknown>;
  /** When the connection first became active (ISO 8601): write-back conditions see it as `connection.activated_at`. */
  activated_at?: string;
  /** auth oauth2_authorization_code: the connection's stored tokens (refreshed and persisted by src/connections). */
  tokens?: AccessTokenSource;
  /** Deployment switch allow_insecure_loopback: a templated base URL may render to http on a loopback host. */
  allow_loopback_http?: boolean;
}

/** Where an OAuth connection's requests get their access token (src/connections/oauth-tokens.ts). */
export interface AccessTokenSource {
  /** A live access token: the stored one, or a refreshed one when it expires within the margin. */
  accessToken(signal?: AbortSignal): Promise<string>;
  /** The system answered 401 to this token: the next accessToken() refreshes (once per token). */
  rejected(token: string): void;
}
