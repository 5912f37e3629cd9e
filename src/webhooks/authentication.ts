/**
 * How a webhook delivery proves where it comes from (spec `webhooks.authentication`): an HMAC signature
 * (`hmac`, the `signature` section, the default), HTTP Basic on the URL (`basic`, Chargebee), a shared token in
 * a header or query parameter (`token`), or nothing (`none`, with a stated reason). Secrets are rendered from
 * the connection's credentials or the deployment's app secret (`app.webhook_secret`). Every comparison is
 * constant-time: secrets of any length are compared as SHA-256 digests, so neither content nor length leaks.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { WebhookAuthenticationSpec, WebhooksSpec } from '../spec/types.ts';
import { WebhookSignatureError } from './errors.ts';
import { compileSignature, renderSecretList, type CompiledSignature, type Delivery, type SecretContext } from './signature.ts';

export interface AuthDelivery extends Delivery {
  /** The query string's parameters as received. */
  query?: URLSearchParams;
}

export interface CompiledAuthentication {
  type: WebhookAuthenticationSpec['type'];
  /** Header names (lower case) that carry credentials and are never stored with an event. */
  secretHeaders: string[];
  /** Renders the values the kind checks against (cache the result per connection). */
  secrets(ctx: SecretContext): Promise<AuthSecrets>;
  verify(delivery: AuthDelivery, secrets: AuthSecrets, nowMs: number): Promise<void>;
  /** Headers and query parameters that make a delivery authenticate (fakes, spec tests). */
  sign(secrets: AuthSecrets, rawBody: Buffer | string, request?: { method?: string; url?: string; headers?: Record<string, string>; timestampMs?: number }): Promise<{ headers: Record<string, string>; query: Record<string, string> }>;
  signature?: CompiledSignature;
}

/** Rendered secrets by name: hmac `secret`, basic `username`/`password`, token `value`. */
export type AuthSecrets = Record<string, string[]>;

const DEFAULT_AUTH: WebhookAuthenticationSpec = { type: 'hmac' };

export function authenticationOf(spec: WebhooksSpec): WebhookAuthenticationSpec {
  return spec.authentication ?? DEFAULT_AUTH;
}

/** The secret templates of a spec's webhook authentication, by name (to find the credentials they read). */
export function authenticationTemplates(spec: WebhooksSpec): Record<string, string> {
  const a = authenticationOf(spec);
  switch (a.type) {
    case 'hmac':
      return spec.signature ? { secret: spec.signature.secret } : {};
    case 'basic':
      return { username: a.username, password: a.password };
    case 'token':
      return { value: a.value };
    case 'none':
      return {};
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time: does `given` equal any of `expected`? Every candidate is compared, match or not. */
export function matchesAny(given: string, expected: string[]): boolean {
  const g = digest(given);
  let ok = false;
  for (const e of expected) ok = timingSafeEqual(g, digest(e)) || ok;
  return ok;
}

const missing = (what: string) => new WebhookSignatureError('WEBHOOK_CREDENTIALS_MISSING', `the delivery carries no ${what}`);
const invalid = (what: string) => new WebhookSignatureError('WEBHOOK_CREDENTIALS_INVALID', `the delivery's ${what} does not match`, 'check the webhook credentials configured in the system (they may have been changed)');
const noSecret = () => new WebhookSignatureError('WEBHOOK_SECRET_MISSING', 'this connection has no webhook credentials configured, so deliveries cannot be verified', 'add the webhook credentials to the connection');

export function compileAuthentication(spec: WebhooksSpec): CompiledAuthentication {
  const a = authenticationOf(spec);
  const templates = authenticationTemplates(spec);
  const secrets = async (ctx: SecretContext): Promise<AuthSecrets> => {
    const out: AuthSecrets = {};
    for (const [k, t] of Object.entries(templates)) out[k] = await renderSecretList(t, ctx);
    return out;
  };
  switch (a.type) {
    case 'hmac': {
      if (!spec.signature) throw new WebhookSignatureError('WEBHOOK_SIGNATURE_MALFORMED', 'the connector spec has no webhooks.signature for hmac authentication', 'add webhooks.signature, or set webhooks.authentication.type');
      const signature = compileSignature(spec.signature);
      const header = (spec.signature.header ?? (spec.signature.preset === 'standard_webhooks' ? 'webhook-signature' : '')).toLowerCase();
      return {
        type: 'hmac',
        secretHeaders: header ? [header] : [],
        signature,
        secrets,
        async verify(d, s, nowMs) {
          await signature.verify(d, s.secret ?? [], nowMs);
        },
        async sign(s, rawBody, r = {}) {
          const secret = s.secret?.[0];
          if (!secret) throw noSecret();
          return { headers: await signature.sign(secret, rawBody, r.headers ?? {}, r.timestampMs ?? Date.now(), r), query: {} };
        },
      };
    }
    case 'basic':
      return {
        type: 'basic',
        secretHeaders: ['authorization'],
        secrets,
        async verify(d, s) {
          if (!s.username?.length || !s.password?.length) throw noSecret();
          const m = /^Basic[ \t]+([A-Za-z0-9+/=]{1,1024})[ \t]*$/i.exec(d.headers.authorization ?? '');
          if (!m) throw missing('HTTP Basic credentials (Authorization: Basic ...)');
          const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
          const colon = decoded.indexOf(':');
          if (colon < 0) throw invalid('Basic credentials');
          // Both halves are always compared, so a right user name with a wrong password takes as long as neither.
          const userOk = matchesAny(decoded.slice(0, colon), s.username);
          const passOk = matchesAny(decoded.slice(colon + 1), s.password);
          if (!(userOk && passOk)) throw invalid('Basic credentials');
        },
        async sign(s) {
          if (!s.username?.[0] || !s.password?.[0]) throw noSecret();
          return { headers: { authorization: `Basic ${Buffer.from(`${s.username[0]}:${s.password[0]}`).toString('base64')}` }, query: {} };
        },
      };
    case 'token': {
      const name = a.in === 'header' ? a.name.toLowerCase() : a.name;
      const prefix = a.prefix ?? '';
      const where = a.in === 'header' ? `${name} header` : `"${name}" query parameter`;
      return {
        type: 'token',
        secretHeaders: a.in === 'header' ? [name] : [],
        secrets,
        async verify(d, s) {
          if (!s.value?.length) throw noSecret();
          let given: string | undefined;
          if (a.in === 'header') given = d.headers[name];
          else {
            const all = d.query?.getAll(name) ?? [];
            if (all.length > 1) throw invalid(`${where} (given ${all.length} times)`);
            given = all[0];
          }
          if (given === undefined || given === '') throw missing(`token in the ${where}`);
          if (prefix && !given.startsWith(prefix)) throw invalid(`token in the ${where}`);
          if (!matchesAny(given.slice(prefix.length), s.value)) throw invalid(`token in the ${where}`);
        },
        async sign(s) {
          const v = s.value?.[0];
          if (!v) throw noSecret();
          return a.in === 'header' ? { headers: { [name]: `${prefix}${v}` }, query: {} } : { headers: {}, query: { [name]: v } };
        },
      };
    }
    case 'none':
      return {
        type: 'none',
        secretHeaders: [],
        secrets,
        async verify() {},
        async sign() {
          return { headers: {}, query: {} };
        },
      };
  }
}
