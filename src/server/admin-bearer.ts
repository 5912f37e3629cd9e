/**
 * `Authorization: Bearer <admin token>` for every admin router. A router is given an AdminTokenCheck: the
 * server passes its stored-hash check (src/server/admin-auth.ts), tests and embedders a plain token through
 * `tokenCheck`. Comparisons are constant-time over SHA-256 digests; refusals are 401 in the admin API's shape.
 *
 * `taxbridge serve` gives its routers an AdminGate instead: the bearer token, or else the web console's
 * signed-in session cookie (with its CSRF header on every change, src/console/session-auth.ts). A request
 * with an Authorization header is judged by the token alone.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { TaxbridgeError, publicCode } from '../errors.ts';

/** True when the presented bearer token is the admin token. */
export type AdminTokenCheck = (presented: string) => boolean;

export const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A check against one known token (at least 16 characters). */
export function tokenCheck(adminToken: string): AdminTokenCheck {
  if (typeof adminToken !== 'string' || adminToken.length < 16) {
    throw new TaxbridgeError('config_invalid', 'the admin API needs an admin token of at least 16 characters', { hint: 'set it in the server configuration' });
  }
  const expected = sha256(adminToken);
  return (presented) => timingSafeEqual(sha256(presented), expected);
}

/** What a second way in (the console session) says about a request without an Authorization header. */
export type SessionVerdict = { ok: true } | { ok: false; status: number; code: string; message: string; hint?: string };

export interface AdminGate {
  token: AdminTokenCheck;
  /** undefined: the request carries no session at all (answered as a missing bearer token). */
  session?: (ctx: Context) => SessionVerdict | undefined | Promise<SessionVerdict | undefined>;
}

/** How the routers' options take the admin credential: a token, a check, or a gate with sessions. */
export type AdminCredential = string | AdminTokenCheck | AdminGate;

/** A token or a check, as the routers' options take it. */
export function toTokenCheck(admin: AdminCredential): AdminTokenCheck {
  if (typeof admin === 'object') return admin.token;
  return typeof admin === 'function' ? admin : tokenCheck(admin);
}

/** The bearer token of a request, when it is the admin token. */
export function isAdminRequest(authorization: string, check: AdminTokenCheck): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  return Boolean(m && check(m[1]!));
}

/** Why a request is not an admin request, in words a user can act on; undefined when it is one. */
export function adminRefusal(authorization: string, check: AdminTokenCheck): string | undefined {
  if (isAdminRequest(authorization, check)) return undefined;
  if (!authorization) return 'admin API: send Authorization: Bearer <admin token>';
  if (!/^Bearer\s+\S+$/i.test(authorization)) return 'admin API: the Authorization header must be "Bearer <admin token>"';
  return 'admin API: the admin token is not valid (it was replaced, or this is another server\'s token)';
}

export function adminBearerAuth(admin: AdminCredential): Middleware {
  const check = toTokenCheck(admin);
  const session = typeof admin === 'object' ? admin.session : undefined;
  return async (ctx, next) => {
    const authorization = ctx.get('authorization');
    if (!authorization && session) {
      const verdict = await session(ctx);
      if (verdict?.ok) return next();
      if (verdict) {
        ctx.status = verdict.status;
        ctx.type = 'application/json';
        ctx.body = JSON.stringify({ type: 'api_error', code: publicCode(verdict.code), message: verdict.message, ...(verdict.hint ? { hint: verdict.hint } : {}) });
        return;
      }
    }
    const refusal = adminRefusal(authorization, check);
    if (refusal) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer');
      ctx.type = 'application/json';
      ctx.body = JSON.stringify({ type: 'api_error', code: 'unauthorized_access', message: refusal });
      return;
    }
    await next();
  };
}
