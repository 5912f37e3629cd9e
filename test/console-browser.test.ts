/**
 * The web console in real Chromium against `taxbridge serve` and the fake Sequence and Rillet: a person signs
 * in, creates a test organization with a subscribed region, connects Sequence and Rillet through the forms
 * exactly as the seeds describe, watches the backfills finish, switches a region's tax calculation off and
 * on, sees an invoice created in Rillet get its tax, makes a write-back fail, sees it dead and replays it.
 * Every page is checked with axe-core (no serious violation) and for CSP violations; full-page screenshots go
 * to test-artifacts/. One browser and one page for the whole file; the steps run in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, startFakeSequence, type FakeRillet, type FakeSequence } from '../fakes/index.ts';
import { startFakeQuickBooks, type FakeQuickBooks } from '../fakes/quickbooks.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { ensureConsoleBuilt, launchChromium, screenshot, seriousA11yViolations, watchPage } from './helpers/browser.ts';
import { adminClient, freePort, inProcessConfig, startTestServer, until } from './helpers/e2e.ts';

const ADMIN_TOKEN = 'adm_browser_' + 'c'.repeat(32);
let dir: string;
let server: RunningServer;
let seq: FakeSequence;
let ril: FakeRillet;
let qb: FakeQuickBooks;
let browser: Browser;
let page: Page;
let watched: { problems: string[] };
const admin = adminClient(() => server.url, ADMIN_TOKEN);
const started = Date.now();
let orgId = '';
let rilletConnection = '';
let rilletWebhookUrl = '';

beforeAll(async () => {
  const consoleDir = ensureConsoleBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tb-console-browser-'));
  const counts = { customers: 6, products: 3, invoices: 6, creditNotes: 1 };
  [seq, ril, qb] = await Promise.all([
    startFakeSequence({ seed: 11, counts }),
    startFakeRillet({ seed: 11, counts }),
    startFakeQuickBooks({ seed: 11, companies: 2, counts: { customers: 3, items: 2, invoices: 3, creditMemos: 1 }, consentPage: true }),
  ]);
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  qb.addRedirectUri(`${publicUrl}/oauth/callback`);
  const oauthEnv = {
    TAXBRIDGE_OAUTH_QUICKBOOKS_CLIENT_ID: qb.clientId,
    TAXBRIDGE_OAUTH_QUICKBOOKS_CLIENT_SECRET: qb.clientSecret,
    TAXBRIDGE_OAUTH_QUICKBOOKS_AUTHORIZE_URL: qb.oauth.authorizeUrl,
    TAXBRIDGE_OAUTH_QUICKBOOKS_TOKEN_URL: qb.oauth.tokenUrl,
    TAXBRIDGE_OAUTH_QUICKBOOKS_REVOKE_URL: qb.oauth.revokeUrl,
  };
  server = await startTestServer(inProcessConfig({ dataDir: join(dir, 'data'), port, env: { TAXBRIDGE_ADMIN_TOKEN: ADMIN_TOKEN, TAXBRIDGE_SCHEDULES: 'false', TAXBRIDGE_PUBLIC_URL: publicUrl, ...oauthEnv } }), { consoleDir });
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  watched = watchPage(page);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await Promise.all([seq?.close(), ril?.close(), qb?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`console-browser: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

// A failing step leaves its page behind as a screenshot.
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `failed-${ctx.task.name.slice(0, 40).replace(/[^A-Za-z0-9]+/g, '-')}`).catch(() => undefined);
});

/** axe on the current page and no CSP violation or page error so far. */
async function pageIsClean(name: string): Promise<void> {
  expect(await seriousA11yViolations(page), `axe on ${name}`).toEqual([]);
  expect(watched.problems, `CSP or errors on ${name}`).toEqual([]);
}

describe('the console in Chromium', () => {
  it('signs in with the admin token into an HttpOnly session cookie; a wrong token is refused next to the field', async () => {
    await page.goto(`${server.url}/console`);
    await page.getByRole('heading', { name: 'taxbridge console' }).waitFor();
    await pageIsClean('sign-in');
    await screenshot(page, 'sign-in');
    await page.getByLabel('Admin token').fill('not-the-token-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('.field.has-error .error').textContent()).toMatch(/not the admin token/);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite }))).toEqual([{ name: 'tb_console', httpOnly: true, sameSite: 'Strict' }]);
    expect(await page.evaluate('JSON.stringify({ l: Object.keys(localStorage), s: Object.keys(sessionStorage), c: document.cookie })')).toBe('{"l":[],"s":[],"c":""}');
    // A tile per connector spec, and an empty state for the connections.
    for (const name of ['Sequence', 'Rillet', 'Stripe', 'Chargebee', 'QuickBooks Online']) await page.getByRole('link', { name: `Connect ${name}` }).waitFor();
    await page.getByText('Nothing is connected yet.').waitFor();
    await pageIsClean('connections');
  });

  it('creates a test organization and a subscribed region', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Organizations' }).click();
    await page.getByText('No organizations yet.').waitFor();
    const form = page.getByRole('form', { name: 'Create an organization' });
    await form.getByRole('button', { name: 'Create organization' }).isDisabled();
    await form.getByLabel('Name').fill('Acme SaaS (test)');
    await form.getByLabel('Street').fill('100 Congress Ave');
    await form.getByLabel('City').fill('Austin');
    await form.getByLabel('State or province').fill('TX');
    await form.getByLabel('Postal code').fill('78701');
    await pageIsClean('organizations');
    await form.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('heading', { name: /Acme SaaS \(test\)/ }).waitFor();
    orgId = decodeURIComponent(new URL(page.url()).hash.split('/').pop()!);
    expect(orgId).toMatch(/^org_test_/);
    await page.getByText('No subscribed regions').waitFor();
    // An error from the server appears next to its field.
    const add = page.getByRole('form', { name: 'Add a subscribed region' });
    await add.getByLabel('Country').fill('US');
    await add.getByRole('button', { name: 'Add region' }).click();
    await expect.poll(async () => (await page.locator('[role=alert]').allTextContents()).join(' ')).toMatch(/state/i);
    await add.getByLabel('State or province').fill('TX');
    await add.getByLabel('Effective from').fill('2020-01-01');
    await add.getByRole('button', { name: 'Add region' }).click();
    await page.getByRole('switch', { name: 'Tax calculations in US-TX' }).waitFor();
    expect(await page.getByRole('switch', { name: 'Tax calculations in US-TX' }).getAttribute('aria-checked')).toBe('true');
    await pageIsClean('organization');
  });

  it('connects Sequence as its seed describes: client id and secret, Test credentials, a tax API key to paste back', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Connections' }).click();
    await page.getByRole('link', { name: 'Connect Sequence' }).click();
    await page.getByRole('heading', { name: 'Connect Sequence' }).waitFor();
    expect(await page.getByLabel('Client secret').getAttribute('type')).toBe('password');
    await page.getByLabel('Client ID').fill(seq.clientId);
    await page.getByLabel('Client secret').fill('wrong-secret');
    await page.getByText('Advanced').click();
    await page.getByLabel('API base URL').fill(seq.url);
    await pageIsClean('connect sequence');
    await page.getByRole('button', { name: 'Test credentials and connect' }).click();
    await expect.poll(async () => (await page.locator('[role=alert]').allTextContents()).join(' ')).toMatch(/credentials|refused|401/i);
    await page.getByLabel('Client secret').fill(seq.clientSecret);
    await page.getByRole('button', { name: 'Test credentials and connect' }).click();
    await page.getByTestId('connected').waitFor();
    expect(await page.getByTestId('connect-messages').textContent()).toContain('Sequence accepted the credentials.');
    const key = await page.getByTestId('tax-api-key').inputValue();
    expect(key).toMatch(/^tb_test_/);
    await pageIsClean('sequence connected');
    await screenshot(page, 'connect-sequence-key');
    // The key works where Sequence's "Test credentials" button sends it.
    const test = await request(`${server.url}/tax_api/test_credentials`, { headers: { 'x-api-key': key } });
    await test.body.text();
    expect(test.statusCode).toBe(200);
    await page.getByRole('link', { name: 'Open the connection' }).click();
    await until(async () => ((await page.getByTestId('backfill-status').textContent())?.includes('succeeded') ? true : undefined), 'the Sequence backfill in the page', 25_000, 200);
    expect(await page.locator('tr[data-stream=invoices] td.num').first().textContent()).toBe('6');
    await pageIsClean('sequence connection');
  });

  it('connects Rillet as its seed describes: API key, subsidiary, webhook URL to copy, signing token to paste', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Connections' }).click();
    await page.getByRole('link', { name: 'Connect Rillet' }).click();
    await page.getByLabel('API key').fill(ril.apiKey);
    await page.getByText('Advanced').click();
    await page.getByLabel('API base URL').fill(ril.url);
    await page.getByRole('button', { name: 'Test credentials and connect' }).click();
    const usd = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!;
    await page.getByLabel('Subsidiary', { exact: true }).selectOption({ label: usd.trade_name });
    expect(await page.getByTestId('connect-messages').textContent()).toContain('Rillet accepted the credentials.');
    await pageIsClean('rillet subsidiary');
    await page.getByRole('button', { name: 'Next' }).click();
    const url = await page.getByTestId('webhook-url').inputValue();
    expect(url).toMatch(new RegExp(`^${server.url}/webhooks/whk_`));
    await pageIsClean('rillet webhook');
    await screenshot(page, 'connect-rillet-webhook');
    // In Rillet: Webhooks > Create webhook with that URL; its signing token comes back here.
    ril.webhookTargets = [{ url }];
    rilletWebhookUrl = url;
    await page.getByLabel('Webhook signing token').fill(ril.signingToken);
    await page.getByRole('button', { name: 'Save and finish' }).click();
    await page.getByTestId('connected').waitFor();
    await page.getByRole('link', { name: 'Open the connection' }).click();
    rilletConnection = decodeURIComponent(new URL(page.url()).hash.split('/').pop()!);
    await until(async () => ((await page.getByTestId('backfill-status').textContent())?.includes('succeeded') ? true : undefined), 'the Rillet backfill in the page', 25_000, 200);
    const status = (await admin('GET', `/admin/connections/${rilletConnection}`)).json.data;
    expect(status).toMatchObject({ status: 'active', settings: { subsidiary_id: usd.id } });
    await screenshot(page, 'rillet-connection');
  });

  it('follows a sync live by server-sent events, and polls when the stream is refused', async () => {
    const statusGets = (urls: string[]) => urls.filter((u) => new URL(u).pathname === `/admin/connections/${rilletConnection}`).length;
    const lastSync = () => page.locator('tr[data-stream=invoices] td').nth(3).textContent();
    const syncOnce = async () => {
      const before = (await admin('GET', `/admin/connections/${rilletConnection}`)).json.data.sync.invoices.last_sync?.finished_at;
      await page.getByRole('button', { name: 'Sync now' }).click();
      await until(async () => {
        const now = (await admin('GET', `/admin/connections/${rilletConnection}`)).json.data.sync.invoices.last_sync?.finished_at;
        return now && now !== before ? true : undefined;
      }, 'the sync to finish', 20_000, 100);
      // The page shows the finished run without being reloaded.
      await expect.poll(lastSync, { timeout: 5000 }).toMatch(/^ok /);
    };
    const urls: string[] = [];
    const onRequest = (r: { url(): string; method(): string }) => void (r.method() === 'GET' && urls.push(r.url()));
    page.on('request', onRequest);
    try {
      await page.goto(`${server.url}/console#/connections/${rilletConnection}`);
      await page.reload();
      await page.getByTestId('backfill-status').waitFor();
      await expect.poll(() => urls.filter((u) => u.endsWith(`/admin/connections/${rilletConnection}/status/stream`)).length).toBe(1);
      const loaded = statusGets(urls);
      await syncOnce();
      // Pushed by the stream: at most the one reload after the click, no polling every second.
      expect(statusGets(urls) - loaded).toBeLessThanOrEqual(1);
      await pageIsClean('connection, live');

      // The stream refused (as a proxy that buffers event streams would): the page polls instead.
      await page.route('**/status/stream', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"type":"api_error","code":"unavailable","message":"no streams"}' }));
      await page.reload();
      await page.getByTestId('backfill-status').waitFor();
      const before = statusGets(urls);
      await syncOnce();
      // What the page shows now comes by GET: the stream never answered. (A sync can finish before the first
      // poll, and polls come every 5 s once idle: wait for one rather than count at once.)
      await expect.poll(() => statusGets(urls) - before, { timeout: 8000 }).toBeGreaterThanOrEqual(1);
    } finally {
      page.off('request', onRequest);
      await page.unroute('**/status/stream');
    }
  });

  it("switches a region's tax calculation off and on", async () => {
    await page.goto(`${server.url}/console#/organizations/${orgId}`);
    const sw = page.getByRole('switch', { name: 'Tax calculations in US-TX' });
    await sw.click();
    await expect.poll(() => sw.getAttribute('aria-checked')).toBe('false');
    expect((await admin('GET', `/admin/organizations/${orgId}/registrations`)).json.data[0].tax_calculation).toBe(false);
    await sw.click();
    await expect.poll(() => sw.getAttribute('aria-checked')).toBe('true');
    expect((await admin('GET', `/admin/organizations/${orgId}/registrations`)).json.data[0].tax_calculation).toBe(true);
  });

  it('shows an invoice created in Rillet with the tax taxbridge added, its jurisdictions and write-back history', async () => {
    const texan = ril.createCustomer({ address: { line1: '200 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' } });
    const usd = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!;
    const inv = ril.createInvoice({ customer_id: texan.id, subsidiary_id: usd.id, status: 'UNPAID', itemCount: 2 });
    await until(() => (ril.data.invoices.get(inv.id)!.taxes_calculated_at ? true : undefined), 'Rillet to get the tax', 20_000);
    await page.getByRole('navigation').getByRole('link', { name: 'Data' }).click();
    await page.getByLabel('Connection').selectOption({ value: rilletConnection });
    await page.getByRole('link', { name: /^invoices/ }).click();
    await page.getByLabel('Search invoices').fill(inv.invoice_number);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator(`tr[data-record="${inv.id}"]`).waitFor();
    // The unfiltered list holds it too: wait for the search's answer.
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await pageIsClean('invoices');
    await page.locator(`tr[data-record="${inv.id}"] a`).click();
    const detail = page.getByTestId('tax-detail');
    await detail.waitFor({ timeout: 20_000 });
    // The tax Rillet now has on its invoice, formatted as US dollars.
    const taxed = ril.data.invoices.get(inv.id)!;
    const expected = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(taxed.taxed_amount.amount as unknown as number);
    expect(await page.getByTestId('calculated-tax').textContent()).toBe(expected);
    expect(await detail.textContent()).toMatch(/TX State Sales Tax \(state\) 6.25%.*taxable_basis_reduced/);
    await page.locator('tr[data-status=applied]').first().waitFor();
    await pageIsClean('invoice');
    await screenshot(page, 'invoice-tax');
  });

  it('shows a failed write-back as dead and replays it', async () => {
    const texan = ril.createCustomer({ address: { line1: '100 Congress Ave', city: 'Austin', state: 'TX', zip_code: '78701', country: 'US' } });
    const usd = [...ril.data.subsidiaries.values()].find((s) => s.currency === 'USD')!;
    ril.setReadOnly(true);
    const inv = ril.createInvoice({ customer_id: texan.id, subsidiary_id: usd.id, status: 'UNPAID', itemCount: 1 });
    // A forged delivery to the connection's URL: refused, and listed with its code.
    const forged = await request(rilletWebhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-rillet-id': 'dlv_forged_in_browser', 'x-rillet-timestamp': new Date().toISOString(), 'x-rillet-entity': 'INVOICE', 'x-rillet-event': 'CREATED', 'x-rillet-signature': 'Zm9yZ2Vk' }, body: '{"id":"inv_x"}' });
    await forged.body.text();
    expect(forged.statusCode).toBe(401);
    await page.goto(`${server.url}/console#/connections/${rilletConnection}`);
    await page.locator('tr[data-refused=webhook_signature_invalid]', { hasText: 'dlv_forged_in_browser' }).waitFor();
    expect(await page.getByTestId('refused-count').textContent()).toMatch(/^1 refused/);
    const row = page.locator(`tr[data-status=dead]`, { hasText: inv.id });
    await row.waitFor({ timeout: 20_000 }).catch(async (e) => {
      throw new Error(`${e.message}\njobs: ${JSON.stringify((await admin('GET', '/admin/writebacks')).json.data).slice(0, 1500)}\nevents: ${JSON.stringify((await admin('GET', '/admin/events')).json.data).slice(0, 1500)}`);
    });
    await pageIsClean('connection with a dead write-back');
    ril.setReadOnly(false);
    await row.getByRole('button', { name: /Replay/ }).click();
    await page.locator('tr[data-status=applied]', { hasText: inv.id }).waitFor({ timeout: 20_000 });
    expect(ril.data.invoices.get(inv.id)!.taxes_calculated_at).toBeTruthy();
  });

  it('runs a calculation from the Tax form and finds it in the log', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Tax' }).click();
    const form = page.getByRole('form', { name: 'Calculate tax' });
    await form.getByLabel('Street').fill('100 Congress Ave');
    await form.getByLabel('City').fill('Austin');
    await form.getByLabel('State').fill('TX');
    await form.getByLabel('Postal code').fill('78701');
    await form.getByLabel('Line 1 amount (USD)').fill('12.345');
    await form.getByRole('button', { name: 'Calculate' }).click();
    await expect.poll(() => form.locator('.field.has-error .error').textContent()).toMatch(/amount like 100.00/);
    await form.getByLabel('Line 1 amount (USD)').fill('1200.00');
    await form.getByRole('button', { name: 'Calculate' }).click();
    const answer = page.getByTestId('calculation-answer');
    await answer.waitFor();
    // Texas taxes SaaS on 80% of the price: 6.25% state on $960.00.
    expect(await answer.textContent()).toMatch(/TX State Sales Tax 6\.25% on \$960\.00 = \$60\.00/);
    await page.locator('tr[data-calculation]', { hasText: 'admin' }).first().waitFor();
    await pageIsClean('tax');
    await screenshot(page, 'tax');
  });

  it('shows a misspelt key of a spec at its line in the playground, as you type', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Spec playground' }).click();
    await page.getByRole('heading', { name: 'Valid' }).waitFor();
    const editor = page.getByLabel('Connector spec (YAML)');
    const text = await editor.inputValue();
    const line = text.split('\n').findIndex((l) => l.trim().startsWith('records:')) + 1;
    expect(line).toBeGreaterThan(1);
    await editor.fill(text.replace('    records: $.data', '    recrods: $.data'));
    const diag = page.locator(`[data-testid=diagnostics] li[data-line="${line}"]`);
    await diag.waitFor();
    expect(await diag.textContent()).toMatch(new RegExp(`^${line}:5 \\(go to line ${line}, column 5\\) SCHEMA_UNKNOWN_PROPERTY unknown property \`recrods\`.*did you mean \`records\`\?`));
    await page.getByRole('heading', { name: '2 errors' }).waitFor();
    await pageIsClean('playground');
    await screenshot(page, 'playground');
    // The line:column link puts the cursor there.
    await diag.getByRole('button').click();
    const caret = await editor.evaluate((el: any) => String(el.value).slice(0, el.selectionStart).split('\n').length);
    expect(caret).toBe(line);
    // Try the mapping: the example's customers stream on the pasted record, then a record that is not JSON and
    // one whose mapped id is not a string, each error next to the record field.
    await editor.fill(text);
    await page.getByRole('heading', { name: 'Valid' }).waitFor();
    await expect.poll(() => page.getByLabel('Stream').inputValue()).toBe('customers');
    const recordField = page.getByLabel(/^Record \(JSON/);
    await recordField.fill('{"id": "cus_9", "name": "Globex"}');
    await page.getByRole('button', { name: 'Map the record' }).click();
    const mapped = page.getByTestId('mapped-record');
    await mapped.waitFor();
    expect(JSON.parse((await mapped.textContent())!)).toEqual({ external_id: 'cus_9', deleted: false, record: { external_id: 'cus_9', name: 'Globex' } });
    await recordField.fill('{"id": ');
    await page.getByRole('button', { name: 'Map the record' }).click();
    await page.locator('#try-record-err', { hasText: 'the record is not JSON' }).waitFor();
    await recordField.fill('{"id": 9, "name": "Globex"}');
    await page.getByRole('button', { name: 'Map the record' }).click();
    await page.locator('#try-record-err', { hasText: 'external_id must be string' }).waitFor();
    expect(await mapped.count()).toBe(0);
    // A shipped spec loads and is valid.
    await page.getByLabel('Start from').selectOption({ value: 'rillet' });
    await expect.poll(() => editor.inputValue()).toMatch(/^# yaml-language-server/);
    await page.getByRole('heading', { name: /^Valid/ }).waitFor();
  });

  it('connects QuickBooks by OAuth: Connect, the consent page, back to an active connection; then re-authorizes', async () => {
    const [realmA] = qb.realmIds as [string];
    qb.chooseCompanyNext(realmA);
    await page.goto(`${server.url}/console#/connections`);
    await page.getByRole('link', { name: 'Connect QuickBooks Online' }).click();
    await page.getByRole('heading', { name: 'Connect QuickBooks Online' }).waitFor();
    await page.getByText('Advanced').click();
    await page.getByLabel('API base URL').fill(qb.baseUrl(realmA));
    await page.getByRole('button', { name: 'Continue to QuickBooks Online' }).click();
    const connect = page.getByRole('link', { name: 'Connect with QuickBooks Online' });
    await connect.waitFor();
    await pageIsClean('quickbooks authorize');
    await connect.click();
    // The fake Intuit consent page, then taxbridge's callback page with the way back.
    await page.getByRole('heading', { name: `Authorize ${qb.clientId}` }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Connected to QuickBooks Online' }).waitFor();
    // A delivery to QuickBooks' one URL for every company that cannot be verified shows under the shared URL.
    const shared = await request(`${server.url}/webhooks/connectors/quickbooks`, { method: 'POST', headers: { 'content-type': 'application/json', 'intuit-signature': 'Zm9yZ2Vk' }, body: '{"eventNotifications":[]}' });
    await shared.body.text();
    expect(shared.statusCode).toBe(503);
    await page.getByRole('link', { name: 'Open the connection in the console' }).click();
    await page.getByRole('heading', { name: /QuickBooks Online/, level: 1 }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).hash.split('/').pop()!);
    await until(async () => ((await page.getByTestId('backfill-status').textContent())?.includes('succeeded') ? true : undefined), 'the QuickBooks backfill in the page', 25_000, 200);
    const status = (await admin('GET', `/admin/connections/${id}`)).json.data;
    expect(status).toMatchObject({ status: 'active', settings: { realm_id: realmA } });
    expect(await page.locator('tr[data-stream=invoices] td.num').first().textContent()).toBe(String(qb.companies.get(realmA)!.invoices.size));
    await page.getByRole('heading', { name: 'Refused at the shared URL of QuickBooks Online' }).waitFor();
    await page.locator('tr[data-refused=webhook_secret_missing]').waitFor({ timeout: 10_000 });
    await pageIsClean('quickbooks connection');
    // Re-authorize: the consent page again (Deny first: the connection stays as it was), then Allow.
    const grants = qb.oauth.grants().length;
    await page.getByRole('button', { name: 'Re-authorize' }).click();
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByRole('heading', { name: 'Access was not granted' }).waitFor();
    await page.goto(`${server.url}/console#/connections/${id}`);
    qb.chooseCompanyNext(realmA);
    await page.getByRole('button', { name: 'Re-authorize' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Connected to QuickBooks Online' }).waitFor();
    expect(qb.oauth.grants().length).toBe(grants + 1);
    await page.getByRole('link', { name: 'Open the connection in the console' }).click();
    await page.getByRole('heading', { name: /QuickBooks Online/, level: 1 }).waitFor();
    expect((await admin('GET', `/admin/connections/${id}`)).json.data.status).toBe('active');
  });

  it('works on a narrow screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const hash of ['#/connections', `#/organizations/${orgId}`, `#/connections/${rilletConnection}`, '#/tax', `#/data/${rilletConnection}/invoices`, '#/playground']) {
      await page.goto(`${server.url}/console${hash}`);
      await page.locator('main h1').waitFor();
      const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow, hash).toBeLessThanOrEqual(0);
    }
    await screenshot(page, 'narrow-connection');
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
