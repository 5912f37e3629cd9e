/**
 * The console session as a way into the admin routers (src/server/admin-bearer.ts AdminGate): a request
 * without an Authorization header is an admin request when it carries a live session cookie and, for every
 * method that changes something, the session's CSRF token in X-CSRF-Token and no cross-site origin
 * (Origin, when sent, must be this server's; Sec-Fetch-Site, when sent, must not be cross-site).
 */
import type { Context } from 'koa';
import type { SessionVerdict } from '../server/admin-bearer.ts';
import { CSRF_HEADER, ConsoleSessions, SESSION_COOKIE, cookieValue } from './sessions.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The origins a same-site request of the console comes from: the address it was sent to, and the public URL. */
export function ownOrigins(ctx: Context, publicUrl?: string): string[] {
  const out = [`${ctx.protocol}://${ctx.host}`];
  if (publicUrl) {
    try {
      out.push(new URL(publicUrl).origin);
    } catch {
      // a malformed public URL is refused at configuration time
    }
  }
  return out;
}

/** Why a changing request is cross-site, or undefined. */
export function crossSiteRefusal(ctx: Context, publicUrl?: string): string | undefined {
  const site = ctx.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return `the request came from another site (Sec-Fetch-Site: ${site.slice(0, 40)})`;
  const origin = ctx.get('origin');
  if (origin && !ownOrigins(ctx, publicUrl).includes(origin)) return 'the request came from another origin';
  return undefined;
}

/** ctx.state key of the signed-in session's store key (event streams are counted and closed per session). */
export const SESSION_STATE = 'consoleSession';

export function consoleSessionVerdict(sessions: ConsoleSessions, opts: { publicUrl?: string } = {}): (ctx: Context) => Promise<SessionVerdict | undefined> {
  return async (ctx) => {
    const id = cookieValue(ctx.get('cookie'), SESSION_COOKIE);
    if (id === undefined) return undefined;
    const session = await sessions.touch(id);
    if (!session) {
      return { ok: false, status: 401, code: 'unauthorized_access', message: 'console session expired or unknown: sign in again', hint: 'open /console and sign in with the admin token' };
    }
    ctx.state[SESSION_STATE] = session.key;
    if (SAFE.has(ctx.method)) return { ok: true };
    const cross = crossSiteRefusal(ctx, opts.publicUrl);
    if (cross) return { ok: false, status: 403, code: 'csrf_refused', message: `console: ${cross}; changes are accepted only from the console itself` };
    if (!ConsoleSessions.csrfMatches(session.csrf, ctx.get(CSRF_HEADER) || undefined)) {
      return { ok: false, status: 403, code: 'csrf_refused', message: 'console: a change needs the session\'s X-CSRF-Token header', hint: 'reload the console; it sends the header itself' };
    }
    return { ok: true };
  };
}
