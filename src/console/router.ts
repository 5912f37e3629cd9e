/**
 * The web console at /console, on the server's own port: the built single-page app (console/dist, made by
 * `npm run build:console`) and the sign-in session. Everything the app does afterwards goes through the
 * documented admin API with the session cookie (src/console/session-auth.ts).
 *
 *   GET    /console                 the app (index.html; client-side routes are after '#')
 *   GET    /console/assets/{file}   its bundled scripts and styles (only files of the build, by exact name)
 *   POST   /console/session         sign in with {"token": "<admin token>"} -> cookie + CSRF token
 *   GET    /console/session         the signed-in session's CSRF token (after a reload), or 401
 *   DELETE /console/session         sign out
 *
 * Every answer carries a strict Content-Security-Policy (scripts, styles and requests from this origin only;
 * nothing inline, no frames), and the assets are served from memory, read once at start.
 */
import type { ServerConsoleSessionRequest } from '../server/admin-api-types.generated.ts';
import { wireValidator } from '../wire-schemas.ts';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Context } from 'koa';
import type { Router } from '@koa/router';
import { readJsonBody } from '../server/raw-body.ts';
import { BodyError } from '../server/raw-body.ts';
import { sendJson } from '../server/http-errors.ts';
import { createRouter } from '../server/routing.ts';
import type { AdminTokenCheck } from '../server/admin-bearer.ts';
import { CSRF_HEADER, ConsoleSessions, SESSION_COOKIE, cookieValue } from './sessions.ts';
import { crossSiteRefusal } from './session-auth.ts';
import { packagePath } from '../package-root.ts';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

interface Asset {
  body: Buffer;
  type: string;
}

export function defaultConsoleDir(): string {
  return packagePath('console', 'dist');
}

/** The build read into memory: index.html and console/dist/assets/* by file name. */
export function loadConsoleBuild(dir: string): { index: Buffer; assets: Map<string, Asset> } | undefined {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return undefined;
  const assets = new Map<string, Asset>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const type = TYPES[extname(name)];
      if (!type || !/^[A-Za-z0-9._-]+$/.test(name) || !statSync(join(assetDir, name)).isFile()) continue;
      assets.set(name, { body: readFileSync(join(assetDir, name)), type });
    }
  }
  return { index: readFileSync(indexPath), assets };
}

function securityHeaders(ctx: Context): void {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
  ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
}

export interface ConsoleRouterOptions {
  sessions: ConsoleSessions;
  /** The admin token check (constant time). */
  adminToken: AdminTokenCheck;
  publicUrl?: string;
  /** The built app; default console/dist of the package. */
  dir?: string;
  /** Failed sign-ins allowed per minute (all clients together). Default 20. */
  signInAttemptsPerMinute?: number;
  now?: () => number;
}

export function createConsoleRouter(opts: ConsoleRouterOptions): Router {
  const router = createRouter();
  const build = loadConsoleBuild(opts.dir ?? defaultConsoleDir());
  const now = opts.now ?? Date.now;
  const attemptsPerMinute = opts.signInAttemptsPerMinute ?? 20;
  let failures: number[] = [];
  const secure = opts.publicUrl?.startsWith('https:') ?? false;

  const cookie = (value: string, maxAge: number) => `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;

  router.use(async (ctx, next) => {
    securityHeaders(ctx);
    await next();
  });

  router.get('/console', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (!build) {
      ctx.status = 503;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'The console is not built. Run `npm run build:console` (or `npm run build`) and restart taxbridge serve.\n';
      return;
    }
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = build.index;
  });

  router.get('/console/assets/:file', (ctx) => {
    const asset = build?.assets.get(String(ctx.params.file));
    if (!asset) return sendJson(ctx, 404, { type: 'api_error', code: 'not_found', message: 'no such console asset' });
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.type = asset.type;
    ctx.body = asset.body;
  });

  router.post('/console/session', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const cross = crossSiteRefusal(ctx, opts.publicUrl);
    if (cross) return sendJson(ctx, 403, { type: 'api_error', code: 'csrf_refused', message: `console sign-in: ${cross}` });
    const t = now();
    failures = failures.filter((f) => t - f < 60_000);
    if (failures.length >= attemptsPerMinute) {
      ctx.set('Retry-After', '60');
      return sendJson(ctx, 429, { type: 'api_error', code: 'too_many_requests', message: 'too many failed sign-ins in the last minute; wait a minute and try again' });
    }
    let body: unknown;
    try {
      body = await readJsonBody(ctx.req, 4096);
    } catch (e) {
      if (e instanceof BodyError) return sendJson(ctx, e.status, { type: 'api_error', code: 'validation_errors', message: e.message, param: 'token' });
      throw e;
    }
    // schemas/admin-api/server.schema.json#/$defs/console_session_request: {"token"} and nothing else.
    if (!wireValidator('admin-api', 'server', 'console_session_request')(body)) {
      return sendJson(ctx, 400, { type: 'api_error', code: 'validation_errors', message: 'send {"token": "<admin token>"}', param: 'token' });
    }
    const { token } = body as ServerConsoleSessionRequest;
    if (!opts.adminToken(token)) {
      failures.push(t);
      return sendJson(ctx, 401, { type: 'api_error', code: 'unauthorized_access', message: 'that is not the admin token of this server', param: 'token', hint: 'it was printed once at the first start, or set as TAXBRIDGE_ADMIN_TOKEN; `taxbridge serve --new-admin-token` replaces a lost one' });
    }
    // Session fixation: whatever session the browser had ends; the new id is fresh.
    await opts.sessions.end(cookieValue(ctx.get('cookie'), SESSION_COOKIE));
    const s = await opts.sessions.create();
    ctx.set('Set-Cookie', cookie(s.id, s.maxAgeSeconds));
    sendJson(ctx, 201, { data: { signed_in: true, csrf_token: s.csrf, csrf_header: CSRF_HEADER, expires_in: s.maxAgeSeconds } });
  });

  router.get('/console/session', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const s = await opts.sessions.touch(cookieValue(ctx.get('cookie'), SESSION_COOKIE));
    if (!s) return sendJson(ctx, 401, { type: 'api_error', code: 'unauthorized_access', message: 'not signed in' });
    sendJson(ctx, 200, { data: { signed_in: true, csrf_token: s.csrf, csrf_header: CSRF_HEADER } });
  });

  router.delete('/console/session', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const id = cookieValue(ctx.get('cookie'), SESSION_COOKIE);
    const s = await opts.sessions.touch(id);
    if (s) {
      const cross = crossSiteRefusal(ctx, opts.publicUrl);
      if (cross || !ConsoleSessions.csrfMatches(s.csrf, ctx.get(CSRF_HEADER) || undefined)) {
        return sendJson(ctx, 403, { type: 'api_error', code: 'csrf_refused', message: 'console sign-out needs the session\'s X-CSRF-Token header from this origin' });
      }
      await opts.sessions.end(id);
    }
    ctx.set('Set-Cookie', cookie('', 0));
    ctx.status = 204;
  });

  return router;
}
