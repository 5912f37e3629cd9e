/**
 * The web console's sign-in session over real HTTP against `taxbridge serve`, and what an attacker would try
 * with it: a forged or expired cookie, a change without the CSRF header or with another session's, a
 * cross-site Origin or Sec-Fetch-Site, a cookie planted before sign-in (session fixation), a Bearer header
 * next to a cookie, guessing the token. Also the console's own answers: CSP and the other security headers,
 * the built assets and nothing else.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server/serve.ts';
import { inProcessConfig, startTestServer } from './helpers/e2e.ts';

const ADMIN_TOKEN = 'adm_console_' + 'q'.repeat(30);
let dir: string;
let consoleDir: string;
let server: RunningServer;
let clock = Date.now();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tb-console-'));
  // A build of the console as `npm run build:console` lays it out (the real build is exercised by the Chromium tests).
  consoleDir = join(dir, 'console-dist');
  mkdirSync(join(consoleDir, 'assets'), { recursive: true });
  writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><script type="module" src="/console/assets/index-abc.js"></script>');
  writeFileSync(join(consoleDir, 'assets', 'index-abc.js'), 'console.log(1)');
  writeFileSync(join(consoleDir, 'assets', 'notes.txt'), 'not an asset type');
  server = await startTestServer(inProcessConfig({ dataDir: join(dir, 'data'), env: { TAXBRIDGE_ADMIN_TOKEN: ADMIN_TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }), {
    consoleDir,
    consoleSessions: { idleMs: 60_000, maxAgeMs: 600_000, now: () => clock },
  });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await request(server.url + path, {
    method: method as 'GET',
    headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text, headers: res.headers };
}

/** Signs in; the session cookie (name=value) and the CSRF token. */
async function signIn(extraHeaders: Record<string, string> = {}) {
  const r = await call('POST', '/console/session', { body: { token: ADMIN_TOKEN }, headers: extraHeaders });
  expect(r.status).toBe(201);
  const setCookie = String(r.headers['set-cookie']);
  const cookie = /^(tb_console=[A-Za-z0-9_-]{43});/.exec(setCookie)?.[1];
  expect(cookie).toBeTruthy();
  return { cookie: cookie!, csrf: r.json.data.csrf_token as string, setCookie };
}

describe('signing in', () => {
  it('sets an HttpOnly, SameSite=Strict cookie and answers a CSRF token; the admin token is never echoed', async () => {
    const s = await signIn();
    expect(s.setCookie).toMatch(/; Path=\/; HttpOnly; SameSite=Strict; Max-Age=600/);
    expect(s.setCookie).not.toContain(ADMIN_TOKEN);
    expect(s.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const again = await call('GET', '/console/session', { headers: { cookie: s.cookie } });
    expect(again.status).toBe(200);
    expect(again.json.data.csrf_token).toBe(s.csrf);
    expect(again.headers['cache-control']).toBe('no-store');
  });

  it('refuses a wrong token, a missing one, junk bodies and prototype keys with 4xx next to the field', async () => {
    const wrong = await call('POST', '/console/session', { body: { token: 'x'.repeat(40) } });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({ code: 'unauthorized_access', param: 'token' });
    expect(wrong.headers['set-cookie']).toBeUndefined();
    for (const body of ['{}', '[]', 'null', '"tok"', '{"token": 5}', '{"__proto__": {"token": "x"}}', `{"token": "${'a'.repeat(600)}"}`, '{bad json']) {
      const r = await call('POST', '/console/session', { body });
      expect(r.status, body).toBe(400);
      expect(r.json.param, body).toBe('token');
    }
    expect((await call('POST', '/console/session', { body: 'x'.repeat(5000) })).status).toBe(413);
    expect((await call('POST', '/console/session', { body: '{"token":"a"}', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
  });

  it('refuses a cross-site sign-in (login CSRF)', async () => {
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }] as Array<Record<string, string>>) {
      const r = await call('POST', '/console/session', { body: { token: ADMIN_TOKEN }, headers });
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(r.json.code).toBe('csrf_refused');
    }
  });

  it('gives a new session id at every sign-in: a cookie planted before sign-in is never valid (session fixation)', async () => {
    const victim = await signIn();
    const planted = 'tb_console=' + 'A'.repeat(43);
    const fixed = await signIn({ cookie: planted });
    expect(fixed.cookie).not.toBe(planted);
    expect((await call('GET', '/admin/organizations', { headers: { cookie: planted } })).status).toBe(401);
    // Signing in again from a browser with a live session ends the old one.
    const renewed = await signIn({ cookie: victim.cookie });
    expect(renewed.cookie).not.toBe(victim.cookie);
    expect((await call('GET', '/admin/organizations', { headers: { cookie: victim.cookie } })).status).toBe(401);
    expect((await call('GET', '/admin/organizations', { headers: { cookie: renewed.cookie } })).status).toBe(200);
  });
});

describe('the session on the admin API', () => {
  it('reads with the cookie alone and changes only with the CSRF header from this origin', async () => {
    const s = await signIn();
    expect((await call('GET', '/admin/organizations', { headers: { cookie: s.cookie } })).status).toBe(200);
    const body = { name: 'Console Org', mode: 'test' };
    const noCsrf = await call('POST', '/admin/organizations', { body, headers: { cookie: s.cookie } });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.json).toMatchObject({ code: 'csrf_refused', message: expect.stringContaining('X-CSRF-Token') });
    const wrongCsrf = await call('POST', '/admin/organizations', { body, headers: { cookie: s.cookie, 'x-csrf-token': 'B'.repeat(43) } });
    expect(wrongCsrf.status).toBe(403);
    const other = await signIn();
    expect((await call('POST', '/admin/organizations', { body, headers: { cookie: s.cookie, 'x-csrf-token': other.csrf } })).status).toBe(403);
    const cross = await call('POST', '/admin/organizations', { body, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: 'https://evil.example' } });
    expect(cross.status).toBe(403);
    const crossSite = await call('DELETE', '/admin/keys/key_x', { headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'sec-fetch-site': 'same-site' } });
    expect(crossSite.status).toBe(403);
    // Nothing was created by the refused attempts.
    expect((await call('GET', '/admin/organizations', { headers: { cookie: s.cookie } })).json.data).toEqual([]);
    const ok = await call('POST', '/admin/organizations', { body, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: server.url, 'sec-fetch-site': 'same-origin' } });
    expect(ok.status).toBe(201);
    for (const method of ['PATCH', 'DELETE']) {
      const r = await call(method, `/admin/organizations/${ok.json.data.id}/registrations/US-TX`, { body: method === 'PATCH' ? { tax_calculation: false } : undefined, headers: { cookie: s.cookie } });
      expect(r.status, method).toBe(403);
    }
  });

  it('refuses forged, malformed and expired cookies with 401', async () => {
    for (const cookie of ['tb_console=' + 'Z'.repeat(43), 'tb_console=', 'tb_console=../../etc', `tb_console=${'a'.repeat(5000)}`, 'other=1']) {
      const r = await call('GET', '/admin/organizations', { headers: { cookie } });
      expect(r.status, cookie.slice(0, 40)).toBe(401);
    }
    const s = await signIn();
    clock += 30_000;
    expect((await call('GET', '/admin/connections', { headers: { cookie: s.cookie } })).status).toBe(200);
    clock += 61_000; // idle longer than the idle timeout
    const idle = await call('GET', '/admin/connections', { headers: { cookie: s.cookie } });
    expect(idle.status).toBe(401);
    expect(idle.json.message).toMatch(/expired or unknown/);
    // The absolute lifetime ends a session that is used all the time.
    const busy = await signIn();
    for (let i = 0; i < 12; i++) {
      clock += 55_000;
      expect((await call('GET', '/admin/connections', { headers: { cookie: busy.cookie } })).status).toBe(i < 10 ? 200 : 401);
      if (i >= 10) break;
    }
  });

  it('judges a request with an Authorization header by the token alone, even with a valid cookie', async () => {
    const s = await signIn();
    const r = await call('GET', '/admin/organizations', { headers: { cookie: s.cookie, authorization: 'Bearer wrong-token-0123456789' } });
    expect(r.status).toBe(401);
    expect((await call('GET', '/admin/organizations', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    // Bearer clients need no CSRF header (no browser sends the token by itself).
    expect((await call('POST', '/admin/organizations', { body: { name: 'Script Org', mode: 'live' }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(201);
  });

  it('signs out only with the CSRF header, and the cookie is dead afterwards', async () => {
    const s = await signIn();
    expect((await call('DELETE', '/console/session', { headers: { cookie: s.cookie } })).status).toBe(403);
    const out = await call('DELETE', '/console/session', { headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/tb_console=; .*Max-Age=0/);
    expect((await call('GET', '/admin/organizations', { headers: { cookie: s.cookie } })).status).toBe(401);
    expect((await call('GET', '/console/session', { headers: { cookie: s.cookie } })).status).toBe(401);
  });
});

describe('the console page and assets', () => {
  it('serves index.html and built assets with a strict CSP, nothing else', async () => {
    const page = await call('GET', '/console');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const js = await call('GET', '/console/assets/index-abc.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.headers['cache-control']).toMatch(/immutable/);
    for (const p of ['/console/assets/notes.txt', '/console/assets/..%2Findex.html', '/console/assets/index.html', '/console/assets/__proto__', '/console/assets/constructor', '/console/index.html', '/console/', '/Console']) {
      const r = await call('GET', p);
      expect(r.status, p).toBe(404);
    }
    expect((await call('POST', '/console')).status).toBe(405);
  });

  it('says how to build the console when it is not built', async () => {
    const other = await startTestServer(inProcessConfig({ dataDir: join(dir, 'data2'), env: { TAXBRIDGE_ADMIN_TOKEN: ADMIN_TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }), { consoleDir: join(dir, 'nowhere') });
    try {
      const res = await request(other.url + '/console');
      expect(res.statusCode).toBe(503);
      expect(await res.body.text()).toMatch(/npm run build:console/);
    } finally {
      await other.close();
    }
  });

  it('limits failed sign-ins per minute', async () => {
    const other = await startTestServer(inProcessConfig({ dataDir: join(dir, 'data3'), env: { TAXBRIDGE_ADMIN_TOKEN: ADMIN_TOKEN, TAXBRIDGE_SCHEDULES: 'false' } }), { consoleDir });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 22; i++) {
        const res = await request(other.url + '/console/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: `guess-${i}-${'x'.repeat(30)}` }) });
        await res.body.text();
        statuses.push(res.statusCode);
      }
      expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(20)).toEqual([429, 429]);
      // Even the right token waits out the minute: guessing cannot be interleaved with it.
      const res = await request(other.url + '/console/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ADMIN_TOKEN }) });
      await res.body.text();
      expect(res.statusCode).toBe(429);
    } finally {
      await other.close();
    }
  });
});
