/**
 * Alert and metrics settings refuse what would leave alerts unsigned or secrets in the open, naming the
 * setting; `taxbridge alerts test` sends one signed alert.test to every configured URL and exits 0 only
 * when every URL accepted it.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../src/config/index.ts';
import { freePort } from './helpers/e2e.ts';
import { CLI } from './helpers/serve-child.ts';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.ts';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
let dir: string;
let receiver: Receiver;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tb-alerts-cfg-'));
  receiver = await startReceiver('/services/T000/B000/secretpart');
});
afterAll(async () => {
  await receiver?.close();
  rmSync(dir, { recursive: true, force: true });
});

const load = (env: NodeJS.ProcessEnv, file?: unknown) => {
  const path = join(dir, `c-${randomBytes(4).toString('hex')}.json`);
  if (file !== undefined) writeFileSync(path, JSON.stringify(file));
  return loadConfig(file !== undefined ? { config: path } : {}, env, dir);
};
const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return `${(e as { code: string }).code}: ${(e as Error).message}`;
  }
  return 'accepted';
};

describe('alert and metrics settings', () => {
  it('are off by default: /metrics on for the admin token only, no alert URLs', () => {
    const c = load({});
    expect(c.metrics).toBe(true);
    expect(c.metricsToken).toBeUndefined();
    expect(c.alerts).toMatchObject({ urls: [], secrets: [], signatureFailures: 5, signatureWindowSeconds: 300, queueAgeSeconds: 900, maxAttempts: 8 });
  });

  it('read URLs, secret file and thresholds from the file; the environment wins', () => {
    const secretFile = join(dir, 'alert-secret');
    writeFileSync(secretFile, `${SECRET}\n`);
    const c = load({ TAXBRIDGE_ALERT_QUEUE_AGE_SECONDS: '60' }, { metrics: false, alerts: { urls: ['https://alerts.example.com/a'], secret_file: secretFile, signature_failures: 2, queue_age_seconds: 30 } });
    expect(c.metrics).toBe(false);
    expect(c.alerts).toMatchObject({ urls: ['https://alerts.example.com/a'], secrets: [SECRET], signatureFailures: 2, queueAgeSeconds: 60 });
    const c2 = load({ TAXBRIDGE_ALERT_URLS: 'https://a.example.com/1, https://b.example.com/2', TAXBRIDGE_ALERT_SECRET: SECRET });
    expect(c2.alerts.urls).toEqual(['https://a.example.com/1', 'https://b.example.com/2']);
  });

  it('refuse URLs without a secret, malformed secrets, odd URLs, unknown keys and out-of-range numbers', () => {
    expect(refusal(() => load({ TAXBRIDGE_ALERT_URLS: 'https://a.example.com/x' }))).toMatch(/^CONFIG_INVALID: alert URLs are configured but no signing secret/);
    expect(refusal(() => load({ TAXBRIDGE_ALERT_URLS: 'https://a.example.com/x', TAXBRIDGE_ALERT_SECRET: 'hunter2' }))).toMatch(/TAXBRIDGE_ALERT_SECRET must be a Standard Webhooks secret/);
    expect(refusal(() => load({ TAXBRIDGE_ALERT_URLS: 'https://a.example.com/x', TAXBRIDGE_ALERT_SECRET: `whsec_${randomBytes(8).toString('base64')}` }))).toMatch(/24 to 64 random bytes/);
    expect(refusal(() => load({ TAXBRIDGE_ALERT_URLS: 'ftp://a.example.com/x', TAXBRIDGE_ALERT_SECRET: SECRET }))).toMatch(/must be http or https/);
    expect(refusal(() => load({ TAXBRIDGE_ALERT_URLS: 'https://u:p@a.example.com/x', TAXBRIDGE_ALERT_SECRET: SECRET }))).toMatch(/user name or password/);
    expect(refusal(() => load({ TAXBRIDGE_ALERT_URLS: Array.from({ length: 11 }, (_, i) => `https://a.example.com/${i}`).join(','), TAXBRIDGE_ALERT_SECRET: SECRET }))).toMatch(/at most 10/);
    expect(refusal(() => load({}, { alerts: { url: 'https://a.example.com' } }))).toMatch(/alerts: unknown key "url"/);
    expect(refusal(() => load({}, { alerts: { urls: 'https://a.example.com' } }))).toMatch(/alerts.urls must be a list/);
    expect(refusal(() => load({}, { alerts: { queue_age_seconds: -1 } }))).toMatch(/queue_age_seconds must be a whole number from 1/);
    expect(refusal(() => load({ TAXBRIDGE_ALERT_MAX_ATTEMPTS: '1e3' }))).toMatch(/TAXBRIDGE_ALERT_MAX_ATTEMPTS must be a whole number/);
    expect(refusal(() => load({}, { alerts: { ['__proto__']: 1 } }))).toMatch(/unknown key "__proto__"/);
    expect(refusal(() => load({}, { alerts: [] }))).toMatch(/alerts must be an object/);
  });

  it('keep the metrics token out of the file and out of the logged configuration', () => {
    expect(refusal(() => load({}, { metrics_token: 'x'.repeat(32) }))).toMatch(/"metrics_token" does not belong in a configuration file/);
    expect(refusal(() => load({ TAXBRIDGE_METRICS_TOKEN: 'short' }))).toMatch(/at least 16 characters/);
    const tokenFile = join(dir, 'metrics-token');
    writeFileSync(tokenFile, 'm'.repeat(40));
    const c = load({ TAXBRIDGE_ALERT_URLS: receiver.url, TAXBRIDGE_ALERT_SECRET: SECRET }, { metrics_token_file: tokenFile });
    expect(c.metricsToken).toBe('m'.repeat(40));
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).not.toContain('m'.repeat(40));
    expect(shown).not.toContain(SECRET.slice(6, 30));
    expect(shown).not.toContain('secretpart');
    expect(shown).toContain('admin token or metrics token');
  });
});

function alertsCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...CLI, 'alerts', ...args], { cwd: join(import.meta.dirname, '..'), env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('taxbridge alerts test', () => {
  it('sends one signed alert.test to every URL and says where it went, without the URL path', async () => {
    const r = await alertsCli(['test'], { TAXBRIDGE_ALERT_URLS: receiver.url, TAXBRIDGE_ALERT_SECRET: SECRET });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^delivered to http:\/\/127\.0\.0\.1:\d+\/… \(status 200, attempt 1\)\n$/);
    expect(r.stdout).not.toContain('secretpart');
    expect(receiver.got).toHaveLength(1);
    const g = receiver.got[0]!;
    const signed = `${g.headers['webhook-id']}.${g.headers['webhook-timestamp']}.${g.body}`;
    expect(g.headers['webhook-signature']).toBe(`v1,${createHmac('sha256', Buffer.from(SECRET.slice(6), 'base64')).update(signed).digest('base64')}`);
    const body = JSON.parse(g.body);
    expect(body).toMatchObject({ type: 'alert.test', data: { condition: 'test', severity: 'info' } });
    expect(body.text).toMatch(/^taxbridge \[TEST\] test notification: /);
  });

  it('exits 1 when a URL refuses (400: not retried), 2 on usage errors, and says when nothing is configured', async () => {
    receiver.got.length = 0;
    receiver.statuses.push(400);
    const refused = await alertsCli(['test', '--json'], { TAXBRIDGE_ALERT_URLS: receiver.url, TAXBRIDGE_ALERT_SECRET: SECRET });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, results: [{ ok: false, attempts: 1, status: 400 }] });
    expect(receiver.got).toHaveLength(1);
    // Nothing listening: retried (the process stays up through the backoff), then reported.
    const port = await freePort();
    const down = await alertsCli(['test'], { TAXBRIDGE_ALERT_URLS: `http://127.0.0.1:${port}/hook`, TAXBRIDGE_ALERT_SECRET: SECRET });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^NOT delivered to http:\/\/127\.0\.0\.1:\d+\/…: fetch failed.* \(after 3 attempts\)\n$/);
    const none = await alertsCli(['test'], {});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/alerts_not_configured: no alert URL is configured/);
    const usage = await alertsCli(['send'], {});
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown subcommand `alerts send`/);
  });
});
