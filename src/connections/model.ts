/**
 * A connection as stored in the `connections` collection (schema: schemas/entities/connection.schema.json):
 * an organization linked to one system through its connector spec, in one environment, with its credentials
 * (secret ones sealed, ./secrets.ts), settings, the token of its webhook URL and where it stands.
 */
import type { EnvironmentName } from '../spec/types.ts';

export const CONNECTIONS = 'connections';

/**
 * pending: made, but something the user must still give is missing (a setting to choose, the webhook
 * signing secret, the OAuth consent); active: syncing, scheduled and receiving webhooks; needs_reauthorization:
 * the system refused the OAuth grant (consent revoked or expired): schedules stopped, write-backs waiting,
 * until the user authorizes again; disconnected: stopped for good (the
 * synced data stays; the credentials are erased and the webhook URL answers 404).
 */
export type ConnectionStatus = 'pending' | 'active' | 'needs_reauthorization' | 'disconnected';

/** What a pending connection waits for. */
export type NextStep =
  | { step: 'choose_setting'; setting: string; title: string }
  | { step: 'provide_setting'; setting: string; title: string }
  | { step: 'webhook_secret'; credential: string; title: string; webhook_url_required: true }
  /** OAuth consent: open the URL in a browser before `expires_at` (auth oauth2_authorization_code). */
  | { step: 'authorize'; title: string; authorization_url?: string; expires_at?: string; reauthorize?: boolean };

/**
 * The OAuth tokens of a connection (auth oauth2_authorization_code), sealed like secret credentials. Only
 * src/connections/oauth-tokens.ts writes them, each refresh in one write (a rotated refresh token never
 * lands apart from its access token).
 */
export interface OAuthState {
  /** Sealed. */
  access_token: string;
  /** Sealed; absent when the system issued none. */
  refresh_token?: string;
  /** When the access token expires (absent: the system gave no lifetime; used until a 401). */
  expires_at?: string;
  /** Scope granted, as the token endpoint said. */
  scope?: string;
  authorized_at: string;
  refreshed_at?: string;
  /** Bumped by every token write: a request that saw version n knows a newer token is stored. */
  version: number;
}

export interface ConnectionError {
  code: string;
  message: string;
  at: string;
}

export interface BackfillState {
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  started_at?: string;
  finished_at?: string;
  error?: ConnectionError;
  /** Per stream: records created/updated/unchanged/failed, as the sync run reported. */
  streams?: Record<string, Record<string, unknown>>;
}

export interface WebhookRegistration {
  /** api: registered by the runtime (spec `webhooks.registration`); manual: the user pastes the URL; none: no webhooks. */
  mode: 'api' | 'manual' | 'none';
  registered_at?: string;
  /** The system's id of the registration (spec `webhooks.registration.id`), kept to unregister. */
  registration_id?: string;
  /** The user chose to go without webhooks (only schedules keep the data current). */
  skipped?: boolean;
}

export interface ConnectionDoc {
  id: string;
  organization_id: string;
  /** The connector's `name` (e.g. "sequence"). */
  connector: string;
  /** The spec file the connection was made with, relative to the connectors folder. */
  spec_path: string;
  environment: EnvironmentName;
  /** Overrides the spec's base URL for the environment (fakes, proxies). */
  base_url?: string;
  /** Credential values by name: sealed ("enc:v1:...") for secret ones, plain for `secret: false` ones. */
  credentials: Record<string, string>;
  settings: Record<string, unknown>;
  /** The unguessable token in the webhook URL (/webhooks/<token>); null once disconnected. */
  webhook_token: string | null;
  webhook: WebhookRegistration;
  /** The tax API key made for this connection (billing systems call the tax API): id and prefix only. */
  tax_api_key?: { id: string; prefix: string };
  /** Stream names per canonical entity, for lookups by entity (the tax API finds customers this way). */
  streams: Record<string, string[]>;
  status: ConnectionStatus;
  next_step?: NextStep;
  backfill?: BackfillState;
  last_error?: ConnectionError;
  created_at: string;
  updated_at: string;
  activated_at?: string;
  disconnected_at?: string;
  /** Last successful "Test credentials". */
  checked_at?: string;
  /** auth oauth2_authorization_code: the stored tokens. */
  oauth?: OAuthState;
}
