/**
 * Pending OAuth consents. Starting one makes an unguessable `state` (32 random bytes) and a PKCE verifier,
 * stores the flow under the SHA-256 of the state (the state itself is never stored) bound to its connection,
 * and gives the authorization URL. The callback takes the flow once: an unknown state, a state already used
 * and an expired flow (10 minutes) are each refused with their own error. A new consent for a connection
 * replaces its older pending ones (only the newest link works). Used flows are kept until they would have
 * expired, so a replayed callback says "already used" rather than "unknown".
 */
import { createHash, randomBytes } from 'node:crypto';
import { TaxbridgeError } from '../errors.ts';
import { renderUrlTemplate } from '../http/base-url.ts';
import { authorizationUrl, pkcePair, tokenRequest, type TokenSet } from '../http/oauth2-code.ts';
import type { ConnectorSpec, OAuth2CodeAuthSpec } from '../spec/types.ts';
import type { Store } from '../store/types.ts';
import type { ConnectionDoc } from './model.ts';
import type { DeploymentOAuthApp } from './oauth-apps.ts';
import type { SecretBox } from './secrets.ts';

export const OAUTH_FLOWS = 'oauth_flows';
export const FLOW_TTL_MS = 10 * 60 * 1000;
/** base64url of 32 bytes. */
export const STATE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface OAuthFlowDoc {
  /** sha256(state), hex. */
  id: string;
  connection_id: string;
  /** Sealed PKCE verifier (absent with `pkce: false`). */
  code_verifier?: string;
  redirect_uri: string;
  reauthorize: boolean;
  created_at: string;
  expires_at: string;
  used_at?: string;
}

export type FlowRefusal = 'OAUTH_STATE_INVALID' | 'OAUTH_STATE_UNKNOWN' | 'OAUTH_STATE_USED' | 'OAUTH_STATE_EXPIRED';

export class OAuthFlowError extends TaxbridgeError {
  constructor(
    code: FlowRefusal,
    message: string,
    readonly connectionId?: string,
  ) {
    super(code, message, { hint: 'start the authorization again: taxbridge connect --connection <id> --reauthorize' });
  }
}

const hashState = (state: string) => createHash('sha256').update(state, 'utf8').digest('hex');
const verifierPlace = (flowId: string) => `oauth_flows/${flowId}/code_verifier`;

export interface FlowOptions {
  store: Store;
  box: SecretBox;
  now: () => number;
  allowLoopbackHttp: boolean;
  redirectUri: () => string;
}

export class OAuthFlows {
  constructor(private readonly o: FlowOptions) {}

  /** Starts a consent for the connection: the URL to open and when it stops working. */
  async begin(doc: ConnectionDoc, spec: ConnectorSpec, auth: OAuth2CodeAuthSpec, app: DeploymentOAuthApp, reauthorize: boolean): Promise<{ url: string; expires_at: string }> {
    const nowMs = this.o.now();
    const authorizeUrl = renderUrlTemplate(app.authorizeUrl ?? auth.authorize_url, { settings: doc.settings, settingSpecs: spec.settings, allowLoopbackHttp: this.o.allowLoopbackHttp, what: `the ${spec.title} authorization URL` });
    await this.forget(doc.id, (f) => !f.used_at || Date.parse(f.expires_at) < nowMs);
    const state = randomBytes(32).toString('base64url');
    const id = hashState(state);
    const pkce = auth.pkce === false ? undefined : pkcePair();
    const expires_at = new Date(nowMs + FLOW_TTL_MS).toISOString();
    const flow: OAuthFlowDoc = {
      id,
      connection_id: doc.id,
      ...(pkce ? { code_verifier: this.o.box.seal(pkce.verifier, verifierPlace(id)) } : {}),
      redirect_uri: this.o.redirectUri(),
      reauthorize,
      created_at: new Date(nowMs).toISOString(),
      expires_at,
    };
    await this.o.store.put(OAUTH_FLOWS, id, flow);
    return { url: authorizationUrl(auth, { authorizeUrl, clientId: app.clientId, redirectUri: flow.redirect_uri, state, ...(pkce ? { challenge: pkce.challenge } : {}) }), expires_at };
  }

  /** The flow a callback's state names, marked used (single use); refused when unknown, used or expired. */
  async take(state: string): Promise<OAuthFlowDoc> {
    if (!STATE_PATTERN.test(state)) throw new OAuthFlowError('OAUTH_STATE_INVALID', 'the authorization response carries no valid state');
    const id = hashState(state);
    const flow = await this.o.store.get<OAuthFlowDoc>(OAUTH_FLOWS, id);
    if (!flow) throw new OAuthFlowError('OAUTH_STATE_UNKNOWN', 'this authorization link is unknown: it was replaced by a newer one, or never came from this taxbridge');
    if (flow.used_at) throw new OAuthFlowError('OAUTH_STATE_USED', 'this authorization response was already used; a response works once', flow.connection_id);
    const used: OAuthFlowDoc = { ...flow, used_at: new Date(this.o.now()).toISOString() };
    await this.o.store.put(OAUTH_FLOWS, id, used);
    if (Date.parse(flow.expires_at) <= this.o.now()) throw new OAuthFlowError('OAUTH_STATE_EXPIRED', `this authorization link expired at ${flow.expires_at} (links work for ${FLOW_TTL_MS / 60000} minutes)`, flow.connection_id);
    return used;
  }

  /** Exchanges the code with the flow's verifier and redirect URI. */
  async exchange(flow: OAuthFlowDoc, spec: ConnectorSpec, auth: OAuth2CodeAuthSpec, app: DeploymentOAuthApp, settings: Record<string, unknown>, code: string): Promise<TokenSet> {
    const tokenUrl = renderUrlTemplate(app.tokenUrl ?? auth.token_url, { settings, settingSpecs: spec.settings, allowLoopbackHttp: this.o.allowLoopbackHttp, what: `the ${spec.title} token URL` });
    const grant: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: flow.redirect_uri };
    if (flow.code_verifier) grant.code_verifier = this.o.box.open(flow.code_verifier, verifierPlace(flow.id));
    return tokenRequest(spec.title, tokenUrl, app, auth.client_auth ?? 'basic', grant);
  }

  /** Deletes the connection's flows that match (all by default). */
  async forget(connectionId: string, which: (f: OAuthFlowDoc) => boolean = () => true): Promise<void> {
    const { docs: flows } = await this.o.store.find<OAuthFlowDoc>(OAUTH_FLOWS, { where: { connection_id: connectionId } });
    for (const f of flows) if (which(f)) await this.o.store.delete(OAUTH_FLOWS, f.id);
  }
}
