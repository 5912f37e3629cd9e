/**
 * Connections: make, continue, look at and end them, following the seeds' flows.
 *
 *  - Sequence (credentials only): client id + secret -> "Test credentials" (the spec's check) -> the webhook
 *    registered by API with a generated secret (spec `webhooks.registration`) -> stored with secrets sealed ->
 *    a tax API key for Sequence to call the tax API (spec `calls_tax_api: true`), shown once
 *    -> active: backfill, schedules, webhooks.
 *  - Rillet (a setting to choose, a secret to paste): API key -> check -> the subsidiaries offered as choices
 *    (spec `choices_from`) and the webhook URL shown; the connection waits (`pending`) -> the chosen subsidiary
 *    and the signing token copied from Rillet's webhook page -> active.
 *
 * A sandbox connection belongs to a test organization, a production one to a live organization. Nothing is
 * stored when a check fails. What happens when a connection becomes active or ends (backfill, schedulers)
 * belongs to the process that runs them: it listens through `hooks`.
 */
import { randomBase62 } from '../tax/ids.ts';
import { TaxbridgeError, errorMessage, errorRecord, publicCode } from '../errors.ts';
import type { HttpClientOptions } from '../http/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import type { ConnectionContext, ConnectorSpec, EnvironmentName } from '../spec/types.ts';
import type { Store, Where } from '../store/types.ts';
import { createApiKey, revokeApiKey } from '../tax/keys.ts';
import type { Organization } from '../tax/model.ts';
import { generateSecret } from '../webhooks/generated-secret.ts';
import { testCredentials } from './check.ts';
import { listChoices, type Choice } from './choices.ts';
import {
  inputError,
  isSecretCredential,
  isWebhookOnlyCredential,
  missingCredentials,
  missingSettings,
  parseCredentials,
  parseSettings,
  userWebhookSecret,
  withDefaults,
} from './inputs.ts';
import { CONNECTIONS, type ConnectionDoc, type NextStep } from './model.ts';
import type { ConnectorRegistry } from './registry.ts';
import { isSealed, type SecretBox } from './secrets.ts';
import { loopbackHttpFromEnv, isLoopbackHost, renderUrlTemplate } from '../http/base-url.ts';
import { revokeToken, type TokenSet } from '../http/oauth2-code.ts';
import { oauthAppsFrom, type OAuthApps } from './oauth-apps.ts';
import { OAuthFlowError, OAuthFlows } from './oauth-flow.ts';
import { OAuthTokens, oauthCodeAuth, settingsFromToken, tokenPlace, tokenState } from './oauth-tokens.ts';
import { fullMatch } from '../http/base-url.ts';
import { oauthFilled } from './inputs.ts';
import { connectionView, type ConnectionView } from './view.ts';
import { own } from '../own.ts';

/** Registers and unregisters the runtime's webhook URL with a system (the webhooks part does the HTTP). */
export interface WebhookRegistrar {
  /** `secret`: a signing secret the system created and returned (spec `registration.secret`), to store sealed. */
  register(spec: ConnectorSpec, conn: ConnectionContext, url: string): Promise<{ registration_id?: string; secret?: { credential: string; value: string } }>;
  unregister?(spec: ConnectorSpec, conn: ConnectionContext, registrationId: string | undefined): Promise<void>;
}

/** Tax API keys for billing systems (default: the tax part's keys over the same store). */
export interface TaxKeyIssuer {
  create(organizationId: string, name: string): Promise<{ key: string; id: string; prefix: string }>;
  revoke(id: string): Promise<void>;
}

export interface ConnectionHooks {
  /** The connection became active (start backfill and schedules). Errors are logged, never undo the connect. */
  activated?(doc: ConnectionDoc): Promise<void> | void;
  /** Settings or credentials of an active connection changed (restart what runs with them). */
  changed?(doc: ConnectionDoc): Promise<void> | void;
  /** The connection was disconnected (stop its schedules and runs). */
  deactivated?(doc: ConnectionDoc): Promise<void> | void;
  /**
   * The connection needs re-authorization (its OAuth grant was refused): stop its schedules and runs;
   * pending write-backs wait. `activated` follows once it is authorized again.
   */
  paused?(doc: ConnectionDoc): Promise<void> | void;
}

export interface ConnectionServiceOptions {
  store: Store;
  registry: ConnectorRegistry;
  box: SecretBox;
  /** Base of webhook URLs, e.g. https://taxbridge.example.com (no trailing slash). */
  publicUrl: string | (() => string);
  registrar?: WebhookRegistrar;
  taxKeys?: TaxKeyIssuer;
  hooks?: ConnectionHooks;
  http?: HttpClientOptions;
  log?: Logger;
  now?: () => Date;
  /** The deployment's OAuth app credentials per connector. Default: from the environment (./oauth-apps.ts). */
  oauthApps?: OAuthApps;
  /**
   * allow_insecure_loopback: templated hosts and OAuth endpoints may be plain http on a loopback host (tests,
   * the demo). Default: TAXBRIDGE_ALLOW_LOOPBACK_HTTP.
   */
  allowLoopbackHttp?: boolean;
  /**
   * Runs `fn` alone across replicas sharing the store (src/coordination `exclusive`): writes of a connection
   * and OAuth token refreshes. Default: in this process only.
   */
  exclusive?: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

/** What the system's redirect to GET /oauth/callback carried (bounded by the route). */
export interface AuthorizationResponse {
  state?: string;
  code?: string;
  error?: string;
  error_description?: string;
  /** Every query parameter (first values), for `settings_from_redirect`. */
  params: Record<string, string>;
}

export interface AuthorizationOutcome {
  outcome: 'authorized' | 'denied' | 'refused';
  connection?: ConnectionView;
  code?: string;
  message: string;
  messages?: string[];
}

export interface ConnectInput {
  connector: string;
  organization_id: string;
  /** Default: sandbox for a test organization, production for a live one. */
  environment?: EnvironmentName;
  credentials?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  base_url?: string;
  /** Go without webhooks: the connection becomes active without a webhook secret. */
  skip_webhooks?: boolean;
}

export interface UpdateInput {
  credentials?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  skip_webhooks?: boolean;
  base_url?: string | null;
}

export interface ConnectResult {
  connection: ConnectionView;
  /** For pending connections: choices of each setting still to choose. */
  choices?: Record<string, Choice[]>;
  /** Where the system must send webhooks (shown so the user can paste it, e.g. into Rillet). */
  webhook_url?: string;
  /** The tax API key made for this connection. Shown once: only its hash is stored. */
  tax_api_key?: string;
  /** OAuth: the URL to open in a browser for consent (single use, expires). */
  authorization_url?: string;
  /** What the user should do next, in words. */
  messages: string[];
}

const ENVIRONMENTS: EnvironmentName[] = ['sandbox', 'production'];

function expectedEnvironment(mode: Organization['mode']): EnvironmentName {
  return mode === 'test' ? 'sandbox' : 'production';
}

function notFound(id: string): TaxbridgeError {
  return new TaxbridgeError('not_found', `connection ${JSON.stringify(id)} does not exist`, { hint: 'list connections with `taxbridge connections` or GET /admin/connections' });
}

/**
 * The admin-given base URL override (fakes, proxies): https, or http only to a loopback host (a stand-in on
 * the same machine). Changing it on an existing connection needs its secrets given again (./service.ts
 * update), so stored credentials can never be sent to a host other than the one they were given for.
 */
function parseBaseUrl(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw inputError('base_url must be a URL string', 'base_url');
  let u: URL;
  try {
    u = new URL(v.trim());
  } catch {
    throw inputError(`base_url is not a URL: ${JSON.stringify(v)}`, 'base_url');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw inputError('base_url must be an http or https URL', 'base_url');
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) throw inputError(`base_url ${u.origin} is plain http: only https, or http to a loopback host (127.0.0.1, ::1, localhost)`, 'base_url', 'requests carry the credentials: use the https URL');
  if (u.username || u.password) throw inputError('base_url must not carry credentials; give them as credentials', 'base_url');
  return u.toString().replace(/\/+$/, '');
}

export class ConnectionService {
  readonly store: Store;
  readonly registry: ConnectorRegistry;
  private readonly box: SecretBox;
  private readonly opts: ConnectionServiceOptions;
  private readonly log: Logger;
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Short per-connection locks around read-modify-write of the stored document (no network inside). */
  private readonly writeLocks = new Map<string, Promise<unknown>>();
  readonly oauth: OAuthTokens;
  private readonly flows: OAuthFlows;
  private readonly apps: OAuthApps;
  private readonly allowLoopbackHttp: boolean;

  constructor(opts: ConnectionServiceOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.registry = opts.registry;
    this.box = opts.box;
    this.log = opts.log ?? silentLogger;
    this.apps = opts.oauthApps ?? oauthAppsFrom(process.env);
    this.allowLoopbackHttp = opts.allowLoopbackHttp ?? loopbackHttpFromEnv();
    const nowMs = () => (this.opts.now?.() ?? new Date()).getTime();
    this.oauth = new OAuthTokens({
      store: this.store,
      box: this.box,
      apps: this.apps,
      now: nowMs,
      allowLoopbackHttp: this.allowLoopbackHttp,
      write: (id, fn) => this.writeDoc(id, fn),
      onDeadGrant: (id, why) => this.markNeedsReauthorization(id, why),
      ...(opts.exclusive ? { exclusive: opts.exclusive } : {}),
    });
    this.flows = new OAuthFlows({ store: this.store, box: this.box, now: nowMs, allowLoopbackHttp: this.allowLoopbackHttp, redirectUri: () => this.redirectUri() });
  }

  /** Where systems send the user back after consent (register it with the system's OAuth app). */
  redirectUri(): string {
    return `${this.publicUrl()}/oauth/callback`;
  }

  /** Read-modify-write of one stored connection, serialized per connection; fn returns undefined to write nothing. */
  private writeDoc(id: string, fn: (doc: ConnectionDoc) => ConnectionDoc | undefined): Promise<ConnectionDoc | undefined> {
    const write = async () => {
      const cur = await this.store.get<ConnectionDoc>(CONNECTIONS, id);
      if (!cur) return undefined;
      const next = fn(cur);
      if (next) await this.store.put(CONNECTIONS, id, next);
      return next;
    };
    // Across replicas too (a lease), so a token refresh elsewhere is never overwritten by a stale copy.
    const exclusive = this.opts.exclusive;
    return serialized(this.writeLocks, id, exclusive ? () => exclusive(`connection:${id}`, write) : write);
  }

  /**
   * Stores a connection the service changed. The OAuth tokens are the token manager's: the stored ones are
   * kept (a refresh during this change's network calls must not be overwritten), unless `tokens` says the
   * caller sets them.
   */
  private async save(doc: ConnectionDoc, o: { tokens?: boolean; create?: boolean } = {}): Promise<void> {
    if (o.create) {
      await this.store.put(CONNECTIONS, doc.id, doc);
      return;
    }
    await this.writeDoc(doc.id, (cur) => {
      if (o.tokens) return doc;
      const next = { ...doc };
      if (cur.oauth) next.oauth = cur.oauth;
      else delete next.oauth;
      return next;
    });
  }

  private now(): string {
    return (this.opts.now?.() ?? new Date()).toISOString();
  }

  publicUrl(): string {
    const u = this.opts.publicUrl;
    return (typeof u === 'function' ? u() : u).replace(/\/+$/, '');
  }

  /** The connection's webhook URL; none once disconnected, and none for a connector that declares no webhooks. */
  webhookUrl(doc: Pick<ConnectionDoc, 'webhook_token' | 'connector'>): string | undefined {
    if (!doc.webhook_token) return undefined;
    const spec = this.registry.find(doc.connector)?.spec;
    if (spec && !spec.webhooks) return undefined;
    // One URL for every connection of the connector (spec `webhooks.url: per_connector`).
    if (spec?.webhooks?.url === 'per_connector') return `${this.publicUrl()}/webhooks/connectors/${spec.name}`;
    return `${this.publicUrl()}/webhooks/${doc.webhook_token}`;
  }

  private withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return serialized(this.locks, key, fn);
  }

  // --------------------------------------------------------------------------------------------- reading

  async get(id: string): Promise<ConnectionDoc> {
    const doc = await this.store.get<ConnectionDoc>(CONNECTIONS, id);
    if (!doc) throw notFound(id);
    return doc;
  }

  async list(filter: { organizationId?: string; status?: ConnectionDoc['status'] } = {}): Promise<ConnectionDoc[]> {
    const where: Where = {};
    if (filter.organizationId !== undefined) where.organization_id = filter.organizationId;
    if (filter.status !== undefined) where.status = filter.status;
    return (await this.store.find<ConnectionDoc>(CONNECTIONS, { where, orderBy: { field: 'created_at' } })).docs;
  }

  view(doc: ConnectionDoc): ConnectionView {
    return connectionView(doc, this.registry.find(doc.connector)?.spec, this.webhookUrl(doc));
  }

  /** The loaded spec of a stored connection (by connector name; the file it was made with as a fallback). */
  specOf(doc: ConnectionDoc): ConnectorSpec {
    return this.registry.get(doc.connector).spec;
  }

  /** The connection's context with its credentials opened: for the HTTP client only, never for output. */
  context(doc: ConnectionDoc): ConnectionContext {
    const spec = this.registry.find(doc.connector)?.spec;
    const credentials: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(doc.credentials)) credentials[name] = isSealed(value) ? this.box.open(value, secretPlace(doc.id, name)) : value;
    return {
      connection_id: doc.id,
      environment: doc.environment,
      ...(doc.base_url ? { base_url: doc.base_url } : {}),
      credentials,
      settings: spec ? withDefaults(spec, doc.settings) : { ...doc.settings },
      activated_at: doc.activated_at ?? doc.created_at,
      ...(spec && oauthCodeAuth(spec) ? { tokens: this.oauth.source(doc.id, spec) } : {}),
      allow_loopback_http: this.allowLoopbackHttp,
    };
  }

  /** The connection whose webhook URL carries `token`, when it is active or pending; else undefined. */
  async byWebhookToken(token: string): Promise<ConnectionDoc | undefined> {
    if (!/^[A-Za-z0-9_]{16,100}$/.test(token)) return undefined;
    // An indexed lookup (every replica sees a connection another one made, without a cache to refresh).
    const { docs } = await this.store.find<ConnectionDoc>(CONNECTIONS, { where: { webhook_token: token }, limit: 2 });
    const doc = docs.length === 1 ? docs[0] : undefined;
    if (!doc || doc.webhook_token !== token || doc.status === 'disconnected') return undefined;
    return doc;
  }

  // ---------------------------------------------------------------------------------------------- making

  private async organization(id: unknown): Promise<Organization> {
    if (typeof id !== 'string' || !id.trim()) throw inputError('organization_id is required: the organization this connection belongs to', 'organization_id');
    const org = await this.store.get<Organization>('organizations', id.trim());
    if (!org) {
      throw new TaxbridgeError('not_found', `organization ${JSON.stringify(id)} does not exist`, {
        hint: 'create it first (POST /admin/organizations with mode "test" for sandbox connections)',
        details: { field: 'organization_id' },
      });
    }
    return org;
  }

  private environmentFor(spec: ConnectorSpec, org: Organization, requested: unknown, baseUrl: string | undefined): EnvironmentName {
    if (requested !== undefined && requested !== null && !ENVIRONMENTS.includes(requested as EnvironmentName)) {
      throw inputError(`environment must be "sandbox" or "production", got ${JSON.stringify(requested)}`, 'environment');
    }
    const expected = expectedEnvironment(org.mode);
    const env = (requested as EnvironmentName | undefined) ?? expected;
    if (env !== expected) {
      throw new TaxbridgeError(
        'CONNECTION_ENVIRONMENT_MISMATCH',
        env === 'sandbox'
          ? `a sandbox connection belongs to a test organization, and organization ${org.id} (${org.name}) is live`
          : `a production connection belongs to a live organization, and organization ${org.id} (${org.name}) is a test organization`,
        {
          hint: env === 'sandbox' ? 'connect the sandbox to a test organization (mode "test"), or connect production here' : 'use a live organization (mode "live") for production, or connect the sandbox here',
          details: { field: 'environment', organization_mode: org.mode, environment: env },
        },
      );
    }
    if (!own(spec.environments, env) && !baseUrl) {
      throw inputError(`${spec.title} declares no ${env} environment`, 'environment', `${spec.title} has: ${Object.keys(spec.environments).join(', ')}`);
    }
    return env;
  }

  /** Makes a connection. For a connector needing choices or a pasted secret, the result is `pending`. */
  async connect(input: ConnectInput): Promise<ConnectResult> {
    if (typeof input.connector !== 'string' || !input.connector) throw inputError('connector is required (e.g. "sequence", "rillet")', 'connector');
    const loaded = this.registry.get(input.connector);
    const { spec } = loaded;
    const org = await this.organization(input.organization_id);
    const baseUrl = parseBaseUrl(input.base_url);
    const environment = this.environmentFor(spec, org, input.environment, baseUrl);
    const given = parseCredentials(spec, input.credentials);
    const settings = withoutNulls(parseSettings(spec, input.settings));
    const credentials = withoutNulls(given);

    const missing = missingCredentials(spec, credentials);
    if (missing.length) {
      const m = missing[0]!;
      throw inputError(
        `${spec.title} needs ${missing.map((c) => `${c.title} (${c.name})`).join(' and ')} to connect`,
        `credentials.${m.name}`,
        m.description ? `${m.title}: ${m.description}` : undefined,
      );
    }
    const existing = (await this.list({ organizationId: org.id })).find((c) => c.connector === spec.name && c.environment === environment && c.status !== 'disconnected');
    if (existing) {
      throw new TaxbridgeError('conflict', `organization ${org.id} already has a ${existing.status} ${spec.title} ${environment} connection (${existing.id})`, {
        hint: existing.status === 'pending' ? `continue it: PATCH /admin/connections/${existing.id} (CLI: taxbridge connect --connection ${existing.id} ...)` : `disconnect ${existing.id} first to replace it`,
        details: { connection_id: existing.id },
      });
    }

    const id = `conn_${randomBase62(16)}`;
    const ctx: ConnectionContext = { connection_id: id, environment, ...(baseUrl ? { base_url: baseUrl } : {}), credentials: { ...credentials }, settings: withDefaults(spec, settings), allow_loopback_http: this.allowLoopbackHttp };
    const auth = oauthCodeAuth(spec);
    if (auth) {
      // Nothing can be checked before consent: settings the authorize URL needs must be given now, choices come after.
      const filled = oauthFilled(spec);
      const need = missingSettings(spec, withDefaults(spec, settings)).filter((s) => !filled.has(s.name) && !s.choices_from)[0];
      if (need) throw inputError(`${spec.title} needs ${need.title} (${need.name}) before the authorization`, `settings.${need.name}`, need.description);
      this.apps(spec.name, spec.title);
    }
    const check = auth ? { checked: false } : await testCredentials(spec, ctx, { http: this.opts.http });
    const choices = auth ? {} : await this.validateChoices(spec, ctx, settings);

    // Values the runtime makes itself (a webhook secret registered by API).
    for (const c of spec.credentials ?? []) {
      if (c.generated && ctx.credentials[c.name] === undefined) ctx.credentials[c.name] = generateSecret(c.generated);
    }
    const now = this.now();
    const token = `whk_${randomBase62(32)}`;
    const doc: ConnectionDoc = {
      id,
      organization_id: org.id,
      connector: spec.name,
      spec_path: loaded.relativePath,
      environment,
      ...(baseUrl ? { base_url: baseUrl } : {}),
      credentials: this.seal(id, spec, ctx.credentials),
      settings,
      webhook_token: token,
      webhook: { mode: !spec.webhooks ? 'none' : spec.webhooks.registration ? 'api' : 'manual', ...(input.skip_webhooks ? { skipped: true } : {}) },
      streams: streamsByEntity(spec),
      status: 'pending',
      created_at: now,
      updated_at: now,
      ...(check.checked ? { checked_at: now } : {}),
    };
    const messages: string[] = [];
    if (check.checked) messages.push(`${spec.title} accepted the credentials.`);

    // Registration by API needs only the credentials: done before anything is stored, so a failure leaves nothing.
    // (With OAuth it needs the token: done when the authorization completes.)
    if (spec.webhooks?.registration && !input.skip_webhooks && !auth) {
      if (!this.opts.registrar) throw new TaxbridgeError('WEBHOOK_REGISTRAR_MISSING', `${spec.title} registers its webhooks by API, and this process has no registrar`);
      const url = this.webhookUrl(doc)!;
      try {
        const r = await this.opts.registrar.register(spec, ctx, url);
        doc.webhook = { mode: 'api', registered_at: this.now(), ...(r.registration_id ? { registration_id: r.registration_id } : {}) };
        if (r.secret) doc.credentials = { ...doc.credentials, ...this.seal(id, spec, { [r.secret.credential]: r.secret.value }) };
      } catch (e) {
        throw new TaxbridgeError('WEBHOOK_REGISTRATION_FAILED', `${spec.title} refused the webhook registration for ${url}: ${errorMessage(e)}`, {
          hint: 'check that the credentials may manage webhooks (notification policies) and that the public URL (TAXBRIDGE_PUBLIC_URL) is right',
          cause: e,
        });
      }
      messages.push(`Webhooks registered with ${spec.title}.`);
    }

    this.applyNextStep(spec, doc);
    if (auth && doc.next_step?.step === 'authorize') {
      const a = await this.flows.begin(doc, spec, auth, this.apps(spec.name, spec.title), false);
      doc.next_step = { step: 'authorize', title: `Authorize ${spec.title}`, authorization_url: a.url, expires_at: a.expires_at };
      messages.push(`Open this URL in a browser and approve access to ${spec.title} (it works once, until ${a.expires_at}): ${a.url}`);
    }
    await this.save(doc, { create: true });
    this.log.info('connection made', { connection_id: doc.id, connector: spec.name, environment, organization_id: org.id, status: doc.status });

    let taxKey: string | undefined;
    if (spec.calls_tax_api === true) {
      const issuer = this.taxKeys();
      const k = await issuer.create(org.id, `${spec.title} (${environment}) connection ${doc.id}`);
      taxKey = k.key;
      doc.tax_api_key = { id: k.id, prefix: k.prefix };
      await this.save(doc);
      messages.push(`Tax API key for ${spec.title} (shown once, store it now): paste it into ${spec.title}'s Sphere integration and click "Test credentials".`);
    }
    const result = await this.afterChange(spec, doc, undefined, choices, messages);
    return { ...result, ...(taxKey ? { tax_api_key: taxKey } : {}) };
  }

  /** Continues or changes a connection: choose a setting, paste the webhook secret, replace credentials. */
  async update(id: string, input: UpdateInput): Promise<ConnectResult> {
    return this.withLock(id, async () => {
      const before = await this.get(id);
      if (before.status === 'disconnected') throw new TaxbridgeError('conflict', `connection ${id} is disconnected; make a new one`);
      const spec = this.specOf(before);
      const given = parseCredentials(spec, input.credentials);
      const settingsIn = parseSettings(spec, input.settings);
      const current = this.context(before);
      const credentials: Record<string, string | undefined> = { ...current.credentials };
      for (const [k, v] of Object.entries(given)) credentials[k] = v ?? undefined;
      const settings: Record<string, unknown> = { ...before.settings };
      for (const [k, v] of Object.entries(settingsIn)) {
        if (v === null) delete settings[k];
        else settings[k] = v;
      }
      let baseUrl = before.base_url;
      if (input.base_url !== undefined) baseUrl = parseBaseUrl(input.base_url);
      if (baseUrl !== before.base_url) this.checkHostChange(spec, before, given);
      const ctx: ConnectionContext = {
        connection_id: id,
        environment: before.environment,
        ...(baseUrl ? { base_url: baseUrl } : {}),
        credentials,
        settings: withDefaults(spec, settings),
        ...(oauthCodeAuth(spec) ? { tokens: this.oauth.source(id, spec) } : {}),
        allow_loopback_http: this.allowLoopbackHttp,
      };

      const messages: string[] = [];
      const authChanged = Object.keys(given).some((k) => !isWebhookOnlyCredential(spec, k)) || baseUrl !== before.base_url;
      const doc: ConnectionDoc = { ...before, credentials: this.seal(id, spec, withoutUndefined(credentials)), settings, updated_at: this.now() };
      if (baseUrl) doc.base_url = baseUrl;
      else delete doc.base_url;
      if (authChanged) {
        const check = await testCredentials(spec, ctx, { http: this.opts.http });
        if (check.checked) {
          doc.checked_at = this.now();
          messages.push(`${spec.title} accepted the credentials.`);
        }
      }
      const settingsChanged = Object.keys(settingsIn).length > 0;
      const choices = settingsChanged || authChanged ? await this.validateChoices(spec, ctx, settings) : {};
      if (input.skip_webhooks !== undefined) doc.webhook = { ...doc.webhook, skipped: input.skip_webhooks || undefined };
      this.applyNextStep(spec, doc);
      await this.save(doc);
      this.log.info('connection updated', { connection_id: id, status: doc.status, changed: { credentials: Object.keys(given), settings: Object.keys(settingsIn) } });
      return this.afterChange(spec, doc, before, choices, messages);
    });
  }

  /** Reads the choices of every `choices_from` setting; a given value must be one of them. */
  private async validateChoices(spec: ConnectorSpec, ctx: ConnectionContext, settings: Record<string, unknown>): Promise<Record<string, Choice[]>> {
    const out: Record<string, Choice[]> = {};
    for (const s of spec.settings ?? []) {
      if (!s.choices_from) continue;
      const value = settings[s.name];
      const list = await listChoices(spec, ctx, s, { http: this.opts.http });
      if (value === undefined) {
        out[s.name] = list;
        continue;
      }
      if (!list.some((c) => c.value === value)) {
        const shown = list.slice(0, 10).map((c) => `${c.value} (${c.label})`).join(', ');
        throw inputError(`${s.title} ${JSON.stringify(value)} is not one of ${spec.title}'s ${s.choices_from.stream}`, `settings.${s.name}`, list.length ? `choose one of: ${shown}${list.length > 10 ? ', ...' : ''}` : `${spec.title} returned no ${s.choices_from.stream} for these credentials`);
      }
    }
    return out;
  }

  /** Sets status and next_step from what is present. */
  private applyNextStep(spec: ConnectorSpec, doc: ConnectionDoc): void {
    const next = this.nextStep(spec, doc);
    if (next) {
      doc.next_step = next;
      if (doc.status !== 'active') doc.status = 'pending';
      // An active connection that loses a required value keeps running on what it has; the step says what is missing.
    } else {
      delete doc.next_step;
      if (doc.status === 'pending') {
        doc.status = 'active';
        doc.activated_at = this.now();
        doc.backfill = { status: 'pending' };
      }
    }
  }

  private nextStep(spec: ConnectorSpec, doc: ConnectionDoc): NextStep | undefined {
    if (oauthCodeAuth(spec) && !doc.oauth) {
      const cur = doc.next_step?.step === 'authorize' ? doc.next_step : undefined;
      return cur ?? { step: 'authorize', title: `Authorize ${spec.title}` };
    }
    const s = missingSettings(spec, withDefaults(spec, doc.settings))[0];
    if (s) return { step: s.choices_from ? 'choose_setting' : 'provide_setting', setting: s.name, title: s.title };
    const secret = userWebhookSecret(spec);
    if (secret && !doc.webhook.skipped && !doc.credentials[secret.name]) return { step: 'webhook_secret', credential: secret.name, title: secret.title, webhook_url_required: true };
    return undefined;
  }

  private async afterChange(spec: ConnectorSpec, doc: ConnectionDoc, before: ConnectionDoc | undefined, choices: Record<string, Choice[]>, messages: string[]): Promise<ConnectResult> {
    const url = doc.webhook.mode === 'manual' ? this.webhookUrl(doc) : undefined;
    const next = doc.next_step;
    if (next?.step === 'choose_setting') {
      const n = choices[next.setting]?.length ?? 0;
      messages.push(`Choose the ${next.title.toLowerCase()} (${n} offered) and set settings.${next.setting}.`);
    } else if (next?.step === 'provide_setting') {
      messages.push(`Set settings.${next.setting} (${next.title}).`);
    }
    if (url && (next?.step === 'webhook_secret' || next?.step === 'choose_setting')) {
      messages.push(`In ${spec.title}, create a webhook for this URL: ${url}`);
      const secret = userWebhookSecret(spec);
      if (secret) messages.push(`Then give its ${secret.title.toLowerCase()} as credentials.${secret.name}.`);
    }
    const activatedNow = doc.status === 'active' && before?.status !== 'active';
    if (activatedNow) {
      const after = spec.webhooks && !doc.webhook.skipped ? 'schedules and webhooks keep it current' : 'schedules keep it current';
      messages.push(
        this.opts.hooks?.activated
          ? `Connected: the ${spec.title} backfill starts now, then ${after}.`
          : `Connected: the ${spec.title} backfill starts when \`taxbridge serve\` runs on this data folder, then ${after}.`,
      );
      await this.runHook('activated', doc);
    } else if (doc.status === 'active' && before) {
      await this.runHook('changed', doc);
    }
    return {
      connection: this.view(doc),
      ...(doc.next_step?.step === 'authorize' && doc.next_step.authorization_url ? { authorization_url: doc.next_step.authorization_url } : {}),
      ...(Object.keys(choices).length && doc.next_step?.step === 'choose_setting' ? { choices } : {}),
      ...(url ? { webhook_url: url } : {}),
      messages,
    };
  }

  private async runHook(name: keyof ConnectionHooks, doc: ConnectionDoc): Promise<void> {
    const fn = this.opts.hooks?.[name];
    if (!fn) return;
    try {
      await fn(doc);
    } catch (e) {
      this.log.error(`connection ${name} hook failed`, { connection_id: doc.id, error: e });
    }
  }

  private seal(id: string, spec: ConnectorSpec, values: Record<string, string | undefined>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(values)) {
      if (v === undefined) continue;
      const c = spec.credentials?.find((x) => x.name === name);
      out[name] = !c || isSecretCredential(c) ? this.box.seal(v, secretPlace(id, name)) : v;
    }
    return out;
  }

  private taxKeys(): TaxKeyIssuer {
    if (this.opts.taxKeys) return this.opts.taxKeys;
    const store = this.store;
    return {
      async create(orgId, name) {
        const r = await createApiKey(store, orgId, { name });
        return { key: r.key, id: r.doc.id, prefix: r.doc.prefix };
      },
      async revoke(id) {
        await revokeApiKey(store, id);
      },
    };
  }

  // ------------------------------------------------------------------------------------------- OAuth

  /**
   * A new base URL for an existing connection: its stored secrets were given for the old host, so they must
   * be given again with the change (they are never sent to a host they were not given for); an OAuth
   * connection's tokens belong to its host, so it is refused (make a new connection).
   */
  private checkHostChange(spec: ConnectorSpec, before: ConnectionDoc, given: Record<string, string | null>): void {
    if (oauthCodeAuth(spec)) throw inputError(`the base URL of an OAuth connection cannot change: its tokens were issued for ${before.base_url ?? 'the spec\'s host'}`, 'base_url', 'disconnect it and connect again');
    const stored = (spec.credentials ?? []).filter((c) => isSecretCredential(c) && !isWebhookOnlyCredential(spec, c.name) && before.credentials[c.name] !== undefined);
    const missing = stored.filter((c) => typeof given[c.name] !== 'string');
    if (missing.length) {
      throw inputError(`changing base_url needs the connection's secrets again (${missing.map((c) => c.name).join(', ')}): stored secrets are never sent to a new host`, 'base_url', `give --credential ${missing.map((c) => `${c.name}=@file`).join(' --credential ')} with the new base URL`);
    }
  }

  /** Starts (again) the consent of an OAuth connection: a new single-use URL; older links stop working. */
  async reauthorize(id: string): Promise<ConnectResult> {
    return this.withLock(id, async () => {
      const doc = await this.get(id);
      if (doc.status === 'disconnected') throw new TaxbridgeError('conflict', `connection ${id} is disconnected; make a new one`);
      const spec = this.specOf(doc);
      const auth = oauthCodeAuth(spec);
      if (!auth) throw new TaxbridgeError('CONNECTION_NOT_OAUTH', `${spec.title} connections authenticate with ${spec.auth.type}, not OAuth: there is nothing to re-authorize`, { hint: 'replace the credentials instead: taxbridge connect --connection <id> --credential name=@file' });
      const a = await this.flows.begin(doc, spec, auth, this.apps(spec.name, spec.title), true);
      const next: ConnectionDoc = { ...doc, updated_at: this.now() };
      if (doc.status !== 'active') next.next_step = { step: 'authorize', title: `Authorize ${spec.title}`, authorization_url: a.url, expires_at: a.expires_at, ...(doc.oauth ? { reauthorize: true } : {}) };
      await this.save(next);
      this.log.info('authorization started', { connection_id: id, connector: doc.connector, status: doc.status, expires_at: a.expires_at });
      return {
        connection: this.view(next),
        authorization_url: a.url,
        messages: [`Open this URL in a browser and approve access to ${spec.title} (it works once, until ${a.expires_at}): ${a.url}`],
      };
    });
  }

  /**
   * The system's redirect after consent (GET /oauth/callback): the state names the flow (single use,
   * bound to its connection, expiring); the code is exchanged with the PKCE verifier; settings are taken
   * from the redirect and the token response; tokens are stored sealed; the connection continues (active:
   * backfill and schedules, or the next step). A re-authorization must come back for the same account.
   */
  async completeAuthorization(r: AuthorizationResponse): Promise<AuthorizationOutcome> {
    let flow;
    try {
      flow = await this.flows.take(r.state ?? '');
    } catch (e) {
      if (e instanceof OAuthFlowError) return { outcome: 'refused', code: e.code, message: e.message };
      throw e;
    }
    return this.withLock(flow.connection_id, async () => {
      const doc = await this.store.get<ConnectionDoc>(CONNECTIONS, flow.connection_id);
      if (!doc || doc.status === 'disconnected') return { outcome: 'refused', code: 'OAUTH_CONNECTION_GONE', message: 'the connection this authorization was for has been disconnected' };
      const spec = this.specOf(doc);
      const auth = oauthCodeAuth(spec);
      if (!auth) return { outcome: 'refused', code: 'CONNECTION_NOT_OAUTH', message: `${spec.title} no longer connects with OAuth` };
      const fail = async (code: string, message: string, outcome: 'denied' | 'refused' = 'refused'): Promise<AuthorizationOutcome> => {
        const now = this.now();
        const next: ConnectionDoc = { ...doc, last_error: { code: publicCode(code), message, at: now }, updated_at: now };
        if (next.next_step?.step === 'authorize') next.next_step = { step: 'authorize', title: `Authorize ${spec.title}`, ...(doc.oauth ? { reauthorize: true } : {}) };
        await this.save(next);
        this.log.warn('authorization not completed', { connection_id: doc.id, code, message });
        return { outcome, code, message, connection: this.view(next) };
      };
      if (r.error !== undefined) {
        const denied = r.error === 'access_denied';
        const what = `${r.error.slice(0, 64)}${r.error_description ? `: ${r.error_description.slice(0, 300)}` : ''}`;
        return fail(denied ? 'OAUTH_CONSENT_DENIED' : 'OAUTH_AUTHORIZATION_FAILED', denied ? `access to ${spec.title} was denied (${what}); nothing was changed` : `${spec.title} did not authorize the connection (${what})`, denied ? 'denied' : 'refused');
      }
      if (!r.code) return fail('OAUTH_CODE_MISSING', `${spec.title} redirected back without an authorization code`);
      const fromRedirect: Record<string, string> = {};
      for (const [setting, param] of Object.entries(auth.settings_from_redirect ?? {})) {
        const v = Object.hasOwn(r.params, param) ? r.params[param] : undefined;
        const s = spec.settings?.find((x) => x.name === setting);
        if (v === undefined || v === '') return fail('OAUTH_REDIRECT_PARAM_MISSING', `${spec.title} redirected back without ${param}, which settings.${setting} is taken from`);
        if (s?.pattern && !fullMatch(s.pattern, v)) return fail('OAUTH_SETTING_INVALID', `${spec.title} redirected back with ${param} ${JSON.stringify(v.slice(0, 100))}, which does not match the pattern of settings.${setting}`);
        const had = doc.settings[setting];
        if (had !== undefined && had !== v) {
          return fail('OAUTH_ACCOUNT_MISMATCH', `this connection is for ${s?.title ?? setting} ${String(had)}, and the consent was given for ${v}; nothing was changed`, 'refused');
        }
        fromRedirect[setting] = v;
      }
      let tokens: TokenSet;
      let fromToken: Record<string, string>;
      const app = this.apps(spec.name, spec.title);
      try {
        tokens = await this.flows.exchange(flow, spec, auth, app, { ...doc.settings, ...fromRedirect }, r.code);
        fromToken = settingsFromToken(spec, auth, tokens.fields, true);
      } catch (e) {
        if (e instanceof TaxbridgeError) return fail(e.code, e.message);
        throw e;
      }
      const nowMs = (this.opts.now?.() ?? new Date()).getTime();
      const before = doc;
      const next: ConnectionDoc = { ...doc, settings: { ...doc.settings, ...fromRedirect, ...fromToken }, oauth: { ...tokenState(this.box, doc.id, tokens, nowMs, auth), version: (doc.oauth?.version ?? 0) + 1 }, updated_at: this.now() };
      if (next.last_error && /^(oauth_|connection_needs_reauthorization)/i.test(next.last_error.code)) delete next.last_error;
      if (next.next_step?.step === 'authorize') delete next.next_step;
      if (doc.status === 'needs_reauthorization') next.status = 'active';
      // The tokens first (one write), so what follows (registration, choices) can use them.
      await this.save(next, { tokens: true });
      // The replaced grant is no longer held by anyone: revoke it (best effort) rather than leave it live.
      if (before.oauth && before.status !== 'needs_reauthorization') {
        const w = await this.revokeGrant(before, spec);
        if (w) this.log.warn('the replaced OAuth grant was not revoked', { connection_id: doc.id, reason: w });
      }
      const messages = [`${spec.title} authorized${Object.keys(fromRedirect).length ? ` (${Object.entries(fromRedirect).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}.`];
      if (spec.webhooks?.registration && !next.webhook.registered_at && !next.webhook.skipped && this.opts.registrar) {
        const url = this.webhookUrl(next)!;
        try {
          const reg = await this.opts.registrar.register(spec, this.context(next), url);
          next.webhook = { mode: 'api', registered_at: this.now(), ...(reg.registration_id ? { registration_id: reg.registration_id } : {}) };
          if (reg.secret) next.credentials = { ...next.credentials, ...this.seal(next.id, spec, { [reg.secret.credential]: reg.secret.value }) };
          messages.push(`Webhooks registered with ${spec.title}.`);
        } catch (e) {
          next.last_error = { code: publicCode('WEBHOOK_REGISTRATION_FAILED'), message: `${spec.title} refused the webhook registration for ${url}: ${errorMessage(e)}`, at: this.now() };
          messages.push(next.last_error.message);
        }
      }
      // "Test credentials" with the new token, as other connectors do at connect.
      try {
        const check = await testCredentials(spec, this.context(next), { http: this.opts.http });
        if (check.checked) next.checked_at = this.now();
      } catch (e) {
        next.last_error = { ...errorRecord(e, 'CONNECTION_CHECK_FAILED'), at: this.now() };
        messages.push(`${spec.title} authorized the connection, but the check request failed: ${errorMessage(e)}`);
      }
      let choices: Record<string, Choice[]> = {};
      try {
        choices = await this.validateChoices(spec, this.context(next), next.settings);
      } catch (e) {
        messages.push(`Choices could not be read: ${errorMessage(e)}`);
      }
      this.applyNextStep(spec, next);
      await this.save(next);
      this.log.info('connection authorized', { connection_id: doc.id, connector: doc.connector, status: next.status, reauthorized: flow.reauthorize, expires_at: next.oauth?.expires_at });
      const result = await this.afterChange(spec, next, before, choices, messages);
      return { outcome: 'authorized', connection: result.connection, message: messages[0]!, messages: result.messages };
    });
  }

  /** The system refused the grant: schedules stop and write-backs wait until the user authorizes again. */
  async markNeedsReauthorization(id: string, why: string): Promise<void> {
    const next = await this.writeDoc(id, (cur) => {
      if (cur.status !== 'active' && cur.status !== 'pending') return undefined;
      const now = this.now();
      return { ...cur, status: 'needs_reauthorization', next_step: { step: 'authorize', title: `Authorize ${cur.connector} again`, reauthorize: true }, last_error: { code: publicCode('CONNECTION_NEEDS_REAUTHORIZATION'), message: `${why}; run \`taxbridge connect --connection ${id} --reauthorize\``, at: now }, updated_at: now };
    });
    if (!next) return;
    this.log.warn('connection needs re-authorization: schedules stopped, write-backs waiting', { connection_id: id, connector: next.connector, reason: why });
    // Not awaited: the caller may be a run of this connection, which stopping waits for.
    void this.runHook('paused', next);
  }

  /** Revokes the grant at the system on disconnect (spec `auth.revoke_url`); a warning text when it fails. */
  private async revokeGrant(doc: ConnectionDoc, spec: ConnectorSpec | undefined): Promise<string | undefined> {
    const auth = oauthCodeAuth(spec);
    if (!auth || !spec || !doc.oauth) return undefined;
    try {
      const app = this.apps(spec.name, spec.title);
      const url = app.revokeUrl ?? auth.revoke_url;
      if (!url) return undefined;
      const which = doc.oauth.refresh_token ? 'refresh_token' : 'access_token';
      const token = this.box.open(doc.oauth[which]!, tokenPlace(doc.id, which));
      const rendered = renderUrlTemplate(url, { settings: doc.settings, settingSpecs: spec.settings, allowLoopbackHttp: this.allowLoopbackHttp, what: `the ${spec.title} revocation URL` });
      await revokeToken(spec.title, rendered, app, auth.client_auth ?? 'basic', auth.revoke_body ?? 'form', token, which);
      this.log.info('OAuth grant revoked', { connection_id: doc.id, connector: doc.connector });
      return undefined;
    } catch (e) {
      return `the ${spec.title} authorization could not be revoked (${errorMessage(e)}); remove the app in ${spec.title}'s settings`;
    }
  }

  // ------------------------------------------------------------------------------------------- ending

  /**
   * Ends a connection: schedules and runs stop, the webhook URL stops answering, the registration is removed
   * where the spec says how, its tax API key is revoked and its credentials are erased. Synced data stays.
   */
  async disconnect(id: string): Promise<ConnectionView> {
    return this.withLock(id, async () => {
      const doc = await this.get(id);
      if (doc.status === 'disconnected') return this.view(doc);
      const spec = this.registry.find(doc.connector)?.spec;
      const warnings: string[] = [];
      if (spec?.webhooks?.registration?.unregister && doc.webhook.mode === 'api' && doc.webhook.registered_at && this.opts.registrar?.unregister) {
        try {
          await this.opts.registrar.unregister(spec, this.context(doc), doc.webhook.registration_id);
        } catch (e) {
          warnings.push(`the webhook registration could not be removed from ${spec.title}: ${errorMessage(e)}`);
        }
      }
      const revoked = await this.revokeGrant(doc, spec);
      if (revoked) warnings.push(revoked);
      await this.flows.forget(id);
      if (doc.tax_api_key) {
        try {
          await this.taxKeys().revoke(doc.tax_api_key.id);
        } catch (e) {
          warnings.push(`the tax API key ${doc.tax_api_key.prefix} could not be revoked: ${errorMessage(e)}`);
        }
      }
      const now = this.now();
      const next: ConnectionDoc = { ...doc, status: 'disconnected', webhook_token: null, credentials: {}, disconnected_at: now, updated_at: now };
      delete next.next_step;
      delete next.oauth;
      if (warnings.length) next.last_error = { code: publicCode('DISCONNECT_INCOMPLETE'), message: warnings.join('; '), at: now };
      await this.save(next, { tokens: true });
      this.log.info('connection disconnected', { connection_id: id, connector: doc.connector, warnings });
      await this.runHook('deactivated', next);
      return this.view(next);
    });
  }

  /** Records what the backfill did (the runtime calls this). */
  async recordBackfill(id: string, state: NonNullable<ConnectionDoc['backfill']>): Promise<void> {
    await this.withLock(id, async () => {
      const doc = await this.store.get<ConnectionDoc>(CONNECTIONS, id);
      if (!doc) return;
      const next: ConnectionDoc = { ...doc, backfill: state, updated_at: this.now() };
      if (state.status === 'failed' && state.error) next.last_error = state.error;
      await this.save(next);
    });
  }

  /** The choices of a setting, read now with the connection's credentials. */
  async choices(id: string, setting: string): Promise<Choice[]> {
    const doc = await this.get(id);
    const spec = this.specOf(doc);
    const s = spec.settings?.find((x) => x.name === setting);
    if (!s?.choices_from) throw inputError(`${spec.title} has no setting "${setting}" with choices`, `settings.${setting}`);
    return listChoices(spec, this.context(doc), s, { http: this.opts.http });
  }
}

/** Runs fn after every earlier call with the same key (a per-key queue kept in `locks`). */
async function serialized<T>(locks: Map<string, Promise<unknown>>, key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  locks.set(key, tail);
  try {
    return await run;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

/** Where a credential value lives: bound into its sealing so it cannot be moved. */
export function secretPlace(connectionId: string, credential: string): string {
  return `connections/${connectionId}/credentials/${credential}`;
}

function streamsByEntity(spec: ConnectorSpec): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, s] of Object.entries(spec.streams)) (out[s.entity] ??= []).push(name);
  return out;
}

function withoutNulls<T>(o: Record<string, T | null>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== null) out[k] = v;
  return out;
}

function withoutUndefined<T>(o: Record<string, T | undefined>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
