/**
 * Authentication where routing happens: every route of /openapi.json, spelt every way a client or an attacker
 * could spell it (case, trailing and doubled slashes, percent-encoded letters, dot segments), is refused without
 * the admin token or with a wrong one: 401 or 404, never a 2xx, never a 5xx. Requests go over a raw socket
 * (node:http with the path sent verbatim) so no client normalises the path first.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { safePath } from '../src/server/http-errors.ts';
import { isCanonicalPath } from '../src/server/routing.ts';
import { startServer, type RunningServer } from '../src/server/serve.ts';

const ROOT = join(import.meta.dirname, '..');
const ADMIN_TOKEN = 'adm_' + 'k'.repeat(40);
let dir: string;
let server: RunningServer;
const logLines: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tb-paths-'));
  const config = loadConfig(
    { data: dir, port: '0', connectors: join(ROOT, 'connectors') },
    { TAXBRIDGE_MASTER_KEY: randomBytes(32).toString('base64'), TAXBRIDGE_SCHEDULES: 'false', TAXBRIDGE_ADMIN_TOKEN: ADMIN_TOKEN },
    ROOT,
  );
  server = await startServer(config, { writeLog: (l) => logLines.push(l), notice: () => undefined });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One request with the path exactly as given. */
function raw(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : '{}');
  });
}

/** Spellings of one path that must never reach its handler unauthenticated. */
function variants(path: string): string[] {
  const segs = path.split('/').slice(1);
  const first = segs[0]!;
  const last = segs[segs.length - 1]!;
  const enc = (s: string) => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`;
  const encUpper = (s: string) => `%${s.charCodeAt(0).toString(16).toUpperCase()}${s.slice(1)}`;
  const out = [
    path,
    path.toUpperCase(),
    `/${first[0]!.toUpperCase()}${first.slice(1)}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `${path}/`,
    `/${path}`,
    path.replace(`/${first}/`, `/${first}//`),
    `${path}//`,
    `/${enc(first)}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `/${encUpper(first)}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `${path.slice(0, path.length - last.length)}${enc(last)}`,
    `/./${segs.join('/')}`,
    `/${first}/./${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `/x/../${segs.join('/')}`,
    `/${first}/x/../${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    path.replaceAll('/', '%2F').replace(/^%2F/, '/'),
    `${path};`,
    `${path}%00`,
    `${path}%20`,
  ];
  return [...new Set(out)];
}

async function openApiRoutes(): Promise<Array<{ method: string; path: string }>> {
  const doc = JSON.parse((await raw('GET', '/openapi.json')).body) as { paths: Record<string, Record<string, unknown>> };
  const routes: Array<{ method: string; path: string }> = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      // Plausible ids in place of parameters: a route must refuse them before looking them up.
      routes.push({ method: method.toUpperCase(), path: template.replace(/\{[^}]+\}/g, (p) => (p === '{connector}' ? 'sequence' : 'org_test_abc123')) });
    }
  }
  return routes;
}

describe('every admin and tax API route, every spelling', () => {
  it('answers 401 or 404 without a token, with a wrong one and with a forged console session, never 2xx or 5xx', async () => {
    const routes = (await openApiRoutes()).filter((r) => r.path.startsWith('/admin') || r.path.startsWith('/tax_api') || r.path === '/metrics');
    expect(routes.some((r) => r.path === '/metrics')).toBe(true);
    expect(routes.length).toBeGreaterThan(25);
    let tried = 0;
    const leaks: string[] = [];
    for (const r of routes) {
      for (const p of variants(r.path)) {
        const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong-token-0123456789', 'x-api-key': 'tb_test_wrong' }, { authorization: `Bearer ${ADMIN_TOKEN.toUpperCase()}` }, { cookie: `tb_console=${'A'.repeat(43)}`, 'x-csrf-token': 'A'.repeat(43) }];
        for (const headers of attempts) {
          const res = await raw(r.method, p, headers);
          tried++;
          if (res.status !== 401 && res.status !== 404) leaks.push(`${r.method} ${p} ${JSON.stringify(Object.keys(headers))} -> ${res.status} ${res.body.slice(0, 120)}`);
        }
      }
    }
    expect(leaks).toEqual([]);
    expect(tried).toBeGreaterThan(1000);
  });

  it('answers the canonical path with the token (the test above is not vacuous)', async () => {
    const ok = await raw('GET', '/admin/organizations', { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(ok.status).toBe(200);
    const variant = await raw('GET', '/Admin/organizations', { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(variant.status).toBe(404);
    expect(JSON.parse(variant.body)).toMatchObject({ code: 'not_found', hint: expect.stringContaining('case-sensitive') });
  });

  it('says what is wrong with the Authorization header', async () => {
    expect(JSON.parse((await raw('GET', '/admin/organizations')).body).message).toMatch(/send Authorization: Bearer/);
    expect(JSON.parse((await raw('GET', '/admin/organizations', { authorization: 'Bearer nope-nope-nope' })).body).message).toMatch(/not valid/);
    expect(JSON.parse((await raw('GET', '/admin/organizations', { authorization: 'Basic abc' })).body).message).toMatch(/must be "Bearer/);
  });
});

describe('the public OAuth callback, every spelling', () => {
  it('is in /openapi.json and answers 4xx (never 2xx or 5xx) to every variant and to garbage state', async () => {
    const routes = (await openApiRoutes()).filter((r) => r.path.startsWith('/oauth'));
    expect(routes).toEqual([{ method: 'GET', path: '/oauth/callback' }]);
    const states = ['', '?state=', '?state=x&code=y', `?state=${'A'.repeat(43)}&code=y`, `?state=${'A'.repeat(43)}&error=access_denied`, `?state=${'A'.repeat(44)}&code=y`, `?state=${'%E2%80%AE'.repeat(15)}&code=y`, `?state=${'A'.repeat(43)}&state=${'B'.repeat(43)}&code=y`, `?code=${'c'.repeat(5000)}`, `?state=__proto__&code=constructor`, `?__proto__=1&state=${'A'.repeat(43)}&code=y`, '?%ZZ=%ZZ'];
    const bad: string[] = [];
    for (const p of variants('/oauth/callback')) {
      for (const q of states) {
        for (const headers of [{}, { accept: 'application/json' }, { authorization: `Bearer ${ADMIN_TOKEN}` }] as Array<Record<string, string>>) {
          const res = await raw('GET', p + q, headers);
          if (res.status < 400 || res.status >= 500) bad.push(`GET ${p}${q.slice(0, 60)} -> ${res.status} ${res.body.slice(0, 100)}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });
});

describe('canonical paths', () => {
  it('accepts the API form and nothing else', () => {
    for (const p of ['/', '/healthz', '/admin/organizations/org_test_1/registrations/US-TX', '/webhooks/AbC_-9', '/tax_api/calculations/taxcalc_1']) expect(isCanonicalPath(p)).toBe(true);
    for (const p of ['', 'admin', '/admin/', '//admin', '/admin//x', '/admin/./x', '/admin/../x', '/%61dmin', '/admin%2Fx', '/a b', '/a\\b', `/${'a'.repeat(3000)}`]) expect(isCanonicalPath(p)).toBe(false);
  });
});

describe('webhook URL tokens in logs', () => {
  it('are redacted however the path is spelt', async () => {
    const token = 'SECRETtoken_' + 'z'.repeat(20);
    for (const p of [`/webhooks/${token}`, `/WEBHOOKS/${token}`, `/Webhooks/${token}/`, `//webhooks/${token}`, `/%77ebhooks/${token}`, `/webhooks//${token}`, `/./webhooks/./${token}`]) {
      expect(safePath(p)).not.toContain(token);
      await raw('POST', p);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(token);
  });

  it('are redacted on paths without a webhooks segment too (a sender with a wrong path)', async () => {
    const token = `whk_${'Ab3'.repeat(10)}xy`;
    for (const p of [`/webhook/${token}`, `/wh/${token}`, `/admin/${token}`, `/tax_api/calculations/${token}`, `/x/%77hk_${token.slice(4)}`]) {
      expect(safePath(p), p).not.toContain(token.slice(4));
      await raw('POST', p);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(logLines.join('\n')).not.toContain(token.slice(4));
  });
});
