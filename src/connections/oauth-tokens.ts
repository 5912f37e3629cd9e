/**
 * The access tokens of OAuth (authorization code) connections: read from the connection, refreshed before
 * they expire (a margin) and once after a 401, and stored sealed. A refresh stores the new access token and
 * the rotated refresh token (or keeps the old one when none came, RFC 6749 §6) in ONE write of the
 * connection, so a crash never keeps one without the other. One refresh runs at a time per connection:
 * concurrent requests wait for it, and a refresh that finds a newer token stored (another caller refreshed)
 * uses it instead of spending the refresh token again. A refused grant (`invalid_grant`) is judged only
 * after re-reading the stored token (a rotation race is not a dead grant); then the connection needs
 * re-authorization (./service.ts stops its schedules and write-backs wait).
 *
 * Across replicas sharing a store, a refresh also runs under a lease of the connection (`exclusive`): a replica
 * that waited for another's refresh re-reads the stored token and uses it (its version moved on), so the
 * refresh token is spent once. With the embedded store one process owns the folder: the single flight is enough.
 */
import { TaxbridgeError } from '../errors.ts';
import { fullMatch, renderUrlTemplate } from '../http/base-url.ts';
import { OAuthGrantError, tokenRequest, type TokenSet } from '../http/oauth2-code.ts';
import type { AccessTokenSource, ConnectorSpec, OAuth2CodeAuthSpec } from '../spec/types.ts';
import type { Store } from '../store/types.ts';
import { CONNECTIONS, type ConnectionDoc, type OAuthState } from './model.ts';
import type { OAuthApps } from './oauth-apps.ts';
import type { SecretBox } from './secrets.ts';

export const DEFAULT_REFRESH_MARGIN_SECONDS = 300;

export function oauthCodeAuth(spec: ConnectorSpec | undefined): OAuth2CodeAuthSpec | undefined {
  return spec?.auth.type === 'oauth2_authorization_code' ? spec.auth : undefined;
}

export function tokenPlace(connectionId: string, which: 'access_token' | 'refresh_token'): string {
  return `connections/${connectionId}/oauth/${which}`;
}

/** The connection cannot get an access token until the user authorizes again. */
export class NeedsReauthorizationError extends TaxbridgeError {
  constructor(connectionId: string, title: string, why?: string) {
    super('CONNECTION_NEEDS_REAUTHORIZATION', `connection ${connectionId} to ${title} needs to be authorized again${why ? `: ${why}` : ''}`, {
      hint: `run \`taxbridge connect --connection ${connectionId} --reauthorize\` (or POST /admin/connections/${connectionId}/reauthorize) and approve the consent; syncs and write-backs resume then`,
      details: { connection_id: connectionId },
    });
  }
}

export interface OAuthTokensOptions {
  store: Store;
  box: SecretBox;
  apps: OAuthApps;
  now: () => number;
  allowLoopbackHttp: boolean;
  /** Replaces the stored connection under its write lock (no network inside). */
  write(id: string, fn: (doc: ConnectionDoc) => ConnectionDoc | undefined): Promise<ConnectionDoc | undefined>;
  /** The grant is dead: mark the connection (idempotent; must not wait for runs of the connection). */
  onDeadGrant(id: string, why: string): Promise<void>;
  /** Runs a refresh alone across replicas (a lease named after the connection). Default: in process only. */
  exclusive?: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

/** OAuthState for a token response; a refresh without a new refresh token keeps the previous one. */
export function tokenState(box: SecretBox, connectionId: string, t: TokenSet, nowMs: number, auth: OAuth2CodeAuthSpec, prev?: OAuthState): OAuthState {
  const lifetime = t.expires_in ?? auth.default_expires_in_seconds;
  const at = new Date(nowMs).toISOString();
  const refresh = t.refresh_token !== undefined ? box.seal(t.refresh_token, tokenPlace(connectionId, 'refresh_token')) : prev?.refresh_token;
  return {
    access_token: box.seal(t.access_token, tokenPlace(connectionId, 'access_token')),
    ...(refresh ? { refresh_token: refresh } : {}),
    ...(lifetime !== undefined ? { expires_at: new Date(nowMs + lifetime * 1000).toISOString() } : {}),
    ...(t.scope !== undefined ? { scope: t.scope } : prev?.scope !== undefined ? { scope: prev.scope } : {}),
    authorized_at: prev?.authorized_at ?? at,
    ...(prev ? { refreshed_at: at } : {}),
    version: (prev?.version ?? 0) + 1,
  };
}

/**
 * Settings kept from string fields of a token response (`settings_from_token`), each checked against its
 * setting's pattern. `strict` (the first authorization) fails on a bad value; a refresh keeps the old one.
 */
export function settingsFromToken(spec: ConnectorSpec, auth: OAuth2CodeAuthSpec, fields: Record<string, string>, strict: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [setting, field] of Object.entries(auth.settings_from_token ?? {})) {
    const v = Object.hasOwn(fields, field) ? fields[field] : undefined;
    if (v === undefined) {
      if (strict) throw new TaxbridgeError('OAUTH_TOKEN_FIELD_MISSING', `${spec.title}'s token response has no ${field}, which settings.${setting} is taken from`);
      continue;
    }
    const s = spec.settings?.find((x) => x.name === setting);
    if (s?.pattern && !fullMatch(s.pattern, v)) {
      if (strict) throw new TaxbridgeError('OAUTH_SETTING_INVALID', `${spec.title}'s token response gives ${field} ${JSON.stringify(v.slice(0, 100))}, which does not match the pattern of settings.${setting}`);
      continue;
    }
    out[setting] = v;
  }
  return out;
}

export class OAuthTokens {
  private readonly inflight = new Map<string, Promise<string>>();
  /** Per connection: the access token a 401 was answered to (refreshed on next use). */
  private readonly rejectedTokens = new Map<string, string>();

  constructor(private readonly o: OAuthTokensOptions) {}

  source(connectionId: string, spec: ConnectorSpec): AccessTokenSource {
    return {
      accessToken: (signal) => this.accessToken(connectionId, spec, signal),
      rejected: (token) => {
        this.rejectedTokens.set(connectionId, token);
      },
    };
  }

  /** Refreshes in flight now (for tests and shutdown). */
  get refreshing(): number {
    return this.inflight.size;
  }

  private open(doc: ConnectionDoc, which: 'access_token' | 'refresh_token'): string | undefined {
    const v = doc.oauth?.[which];
    return v === undefined ? undefined : this.o.box.open(v, tokenPlace(doc.id, which));
  }

  private fresh(doc: ConnectionDoc, spec: ConnectorSpec): string | undefined {
    const auth = oauthCodeAuth(spec)!;
    const token = this.open(doc, 'access_token');
    if (token === undefined || this.rejectedTokens.get(doc.id) === token) return undefined;
    const exp = doc.oauth?.expires_at;
    if (exp === undefined) return token;
    const margin = (auth.refresh_margin_seconds ?? DEFAULT_REFRESH_MARGIN_SECONDS) * 1000;
    return this.o.now() < Date.parse(exp) - margin ? token : undefined;
  }

  private async load(connectionId: string, spec: ConnectorSpec): Promise<ConnectionDoc> {
    const doc = await this.o.store.get<ConnectionDoc>(CONNECTIONS, connectionId);
    if (!doc || doc.status === 'disconnected') throw new TaxbridgeError('CONNECTION_NOT_ACTIVE', `connection ${connectionId} is ${doc ? 'disconnected' : 'gone'}`);
    if (doc.status === 'needs_reauthorization') throw new NeedsReauthorizationError(connectionId, spec.title, doc.last_error?.message);
    if (!doc.oauth) throw new TaxbridgeError('OAUTH_NOT_AUTHORIZED', `connection ${connectionId} to ${spec.title} has not been authorized yet`, { hint: 'open the authorization URL `taxbridge connect` printed, or run it again with --reauthorize' });
    return doc;
  }

  async accessToken(connectionId: string, spec: ConnectorSpec, signal?: AbortSignal): Promise<string> {
    const doc = await this.load(connectionId, spec);
    const token = this.fresh(doc, spec);
    if (token !== undefined) return token;
    let p = this.inflight.get(connectionId);
    if (!p) {
      // Shared by every waiting caller: not tied to one caller's signal (the token call has its own timeout).
      const version = doc.oauth!.version;
      const refresh = () => this.refresh(connectionId, spec, version);
      p = (this.o.exclusive ? this.o.exclusive(`oauth-refresh:${connectionId}`, refresh) : refresh()).finally(() => this.inflight.delete(connectionId));
      this.inflight.set(connectionId, p);
    }
    if (!signal) return p;
    signal.throwIfAborted();
    return Promise.race([p, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
  }

  private async refresh(connectionId: string, spec: ConnectorSpec, seenVersion: number): Promise<string> {
    const auth = oauthCodeAuth(spec)!;
    let doc = await this.load(connectionId, spec);
    // Someone stored a newer token since the caller looked: use it rather than spend the refresh token.
    if (doc.oauth!.version !== seenVersion) {
      const t = this.fresh(doc, spec);
      if (t !== undefined) return t;
    }
    for (let tries = 0; ; tries++) {
      const refreshToken = this.open(doc, 'refresh_token');
      if (refreshToken === undefined) {
        await this.o.onDeadGrant(connectionId, `${spec.title} issued no refresh token and the access token is no longer accepted`);
        throw new NeedsReauthorizationError(connectionId, spec.title, 'the access token expired and there is no refresh token');
      }
      const app = this.o.apps(spec.name, spec.title);
      const tokenUrl = renderUrlTemplate(app.tokenUrl ?? auth.token_url, { settings: doc.settings, settingSpecs: spec.settings, allowLoopbackHttp: this.o.allowLoopbackHttp, what: `the ${spec.title} token URL` });
      let t: TokenSet;
      try {
        t = await tokenRequest(spec.title, tokenUrl, app, auth.client_auth ?? 'basic', { grant_type: 'refresh_token', refresh_token: refreshToken });
      } catch (e) {
        if (!(e instanceof OAuthGrantError)) throw e;
        // A refresh token rotated by another caller meanwhile is not a dead grant: re-read first.
        const again = await this.load(connectionId, spec);
        const t2 = this.fresh(again, spec);
        if (t2 !== undefined) return t2;
        if (tries === 0 && again.oauth!.refresh_token !== doc.oauth!.refresh_token) {
          doc = again;
          continue;
        }
        await this.o.onDeadGrant(connectionId, e.message);
        throw new NeedsReauthorizationError(connectionId, spec.title, e.message);
      }
      const nowMs = this.o.now();
      const kept = settingsFromToken(spec, auth, t.fields, false);
      const saved = await this.o.write(connectionId, (cur) => {
        if (!cur.oauth || cur.status === 'disconnected') return undefined;
        return { ...cur, settings: { ...cur.settings, ...kept }, oauth: tokenState(this.o.box, connectionId, t, nowMs, auth, cur.oauth), updated_at: new Date(nowMs).toISOString() };
      });
      if (!saved) throw new TaxbridgeError('CONNECTION_NOT_ACTIVE', `connection ${connectionId} was disconnected during a token refresh`);
      this.rejectedTokens.delete(connectionId);
      return t.access_token;
    }
  }
}
