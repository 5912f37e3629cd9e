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
    };

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
}

/** $defs/request */
export interface RequestSpec {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, TemplateValue>;
  headers?: Record<string, string>;
  body?: TemplateValue;
  idempotency_key?: boolean | string;
  idempotency_header?: string;
  ok_statuses?: number[];
}

export interface PageSizeSpec {
  param: string;
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
  | ({ type: 'page_number'; param: string; start?: number } & PaginationCommon)
  | ({ type: 'offset'; param: string; page_size: PageSizeSpec } & Omit<PaginationCommon, 'page_size'>)
  | ({ type: 'link_header'; rel?: string } & PaginationCommon);

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
  format?: 'iso8601' | 'unix_seconds' | 'unix_ms' | 'date';
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
  mapping: ExpressionSource;
  deletion?: { when: ExpressionSource };
  fetch?: { request: RequestSpec; record?: ExpressionSource };
  schedule?: ScheduleSpec;
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
}

/** $defs/webhooks */
export interface WebhooksSpec {
  signature: SignatureSpec;
  event_type: ExpressionSource;
  event_id?: ExpressionSource;
  max_body_bytes?: number;
  events: WebhookEventSpec[];
  registration?: { request: RequestSpec; secret_credential?: string; id?: ExpressionSource; unregister?: RequestSpec };
}

/** What may start a write-back (writeback_target.trigger). */
export type WritebackTrigger = 'webhook' | 'sync' | 'api';

/** $defs/writeback_target */
export interface WritebackTargetSpec {
  stream: string;
  trigger?: WritebackTrigger[];
  when?: ExpressionSource;
  requests: Array<{ for_each?: ExpressionSource; request: RequestSpec }>;
}

/** The root of schemas/connector.schema.json. */
export interface ConnectorSpec {
  spec_version: 1;
  name: string;
  title: string;
  description?: string;
  docs_url?: string;
  category?: 'billing' | 'accounting' | 'commerce' | 'other';
  environments: { production: { base_url: string; description?: string }; sandbox?: { base_url: string; description?: string } };
  credentials?: CredentialSpec[];
  settings?: SettingSpec[];
  auth: AuthSpec;
  http?: HttpSpec;
  check?: { request: RequestSpec; success?: ExpressionSource };
  definitions?: Record<string, unknown>;
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
}
