/**
 * The demo's QuickBooks Online part: the fake Intuit (OAuth server + two companies) and the deployment
 * settings that point connectors/quickbooks.yaml at it (the OAuth app, its endpoints, the app's webhook
 * verifier token). The tour connects one company through the consent a browser would give, waits for the
 * backfill, then creates an invoice in QuickBooks: the app-level webhook routes it by realmId and the tax
 * comes back as TxnTaxDetail.TotalTax, spread by QuickBooks over its rates.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startFakeQuickBooks, type FakeQuickBooks } from '../../fakes/index.ts';
import { TaxbridgeError } from '../errors.ts';

type Json = Record<string, any>;

export interface QuickBooksDemo {
  fake: FakeQuickBooks;
  /** Environment for loadConfig: the OAuth app and endpoints, the webhook verifier token, loopback http. */
  env: Record<string, string>;
  /** Once the server runs: its public URL is the redirect and webhook target. */
  attach(serverUrl: string, publicUrl: string): void;
  connect(o: { adminCall: (method: string, path: string, body?: unknown) => Promise<Json>; organizationId: string; say: (line: string) => void }): Promise<string>;
  invoiceRoundTrip(o: { adminCall: (method: string, path: string, body?: unknown) => Promise<Json>; say: (line: string) => void; waitFor: <T>(fn: () => Promise<T | undefined> | T | undefined, ms: number) => Promise<T> }): Promise<void>;
  close(): Promise<void>;
}

export async function startQuickBooksDemo(): Promise<QuickBooksDemo> {
  const verifier = `qbo_verifier_${randomBytes(12).toString('hex')}`;
  const fake = await startFakeQuickBooks({ seed: 7, companies: 2, counts: { customers: 8, items: 4, invoices: 12, creditMemos: 2 } });
  const realm = fake.realmIds[0]!;
  const env = {
    TAXBRIDGE_ALLOW_LOOPBACK_HTTP: 'true',
    TAXBRIDGE_OAUTH_QUICKBOOKS_CLIENT_ID: fake.clientId,
    TAXBRIDGE_OAUTH_QUICKBOOKS_CLIENT_SECRET: fake.clientSecret,
    TAXBRIDGE_OAUTH_QUICKBOOKS_AUTHORIZE_URL: fake.oauth.authorizeUrl,
    TAXBRIDGE_OAUTH_QUICKBOOKS_TOKEN_URL: fake.oauth.tokenUrl,
    TAXBRIDGE_OAUTH_QUICKBOOKS_REVOKE_URL: fake.oauth.revokeUrl,
    TAXBRIDGE_WEBHOOK_QUICKBOOKS_SECRET: verifier,
  };
  return {
    fake,
    env,
    attach(serverUrl, publicUrl) {
      fake.addRedirectUri(`${publicUrl}/oauth/callback`);
      fake.setWebhook({ url: `${serverUrl}/webhooks/connectors/quickbooks`, verifierToken: verifier });
    },
    async connect({ adminCall, organizationId, say }) {
      fake.chooseCompanyNext(realm);
      const c = (await adminCall('POST', '/admin/connections', { connector: 'quickbooks', organization_id: organizationId, environment: 'sandbox', base_url: fake.baseUrl(realm) })).data;
      say(`   connection ${c.connection.id}: ${c.connection.status}; open ${new URL(c.authorization_url).origin}/connect/oauth2?... to give consent`);
      const visit = await fake.oauth.visit(c.authorization_url);
      if (visit.status !== 302 || !visit.location) throw new TaxbridgeError('DEMO_STEP_FAILED', `the fake Intuit consent answered ${visit.status}`);
      const res = await request(visit.location, { headers: { accept: 'application/json' } });
      const cb = JSON.parse(await res.body.text()) as Json;
      if (res.statusCode !== 200) throw new TaxbridgeError('DEMO_STEP_FAILED', `the OAuth callback answered ${res.statusCode}: ${cb.message ?? ''}`);
      say(`   consent given for company ${realm} (realmId on the redirect) -> ${cb.connection_status}; tokens sealed, refreshed before they expire`);
      return c.connection.id as string;
    },
    async invoiceRoundTrip({ adminCall, say, waitFor }) {
      const company = fake.companies.get(realm)!;
      // A customer in Austin, TX (the demo organization is registered in Texas), created in QuickBooks too.
      const austin = { Line1: '100 Congress Ave', City: 'Austin', CountrySubDivisionCode: 'TX', PostalCode: '78701', Country: 'USA' };
      const customer = fake.createCustomer(realm, { DisplayName: 'Lone Star Dental PLLC', CompanyName: 'Lone Star Dental PLLC', Taxable: true, BillAddr: austin, ShipAddr: austin });
      const item = [...company.items.values()].find((i) => i.Taxable && i.Active) ?? [...company.items.values()][0]!;
      const t0 = Date.now();
      const inv = fake.createInvoice(realm, { customerId: customer.Id, lines: [{ itemId: item.Id, qty: 4, unitPrice: 250 }] });
      const created = inv.SyncToken;
      const taxed = await waitFor(() => {
        const now = company.invoices.get(inv.Id)!;
        return now.TxnTaxDetail.TotalTax > 0 ? now : undefined;
      }, 20_000);
      say(`   invoice ${taxed.DocNumber} for ${customer.DisplayName} (${customer.ShipAddr?.City}, ${customer.ShipAddr?.CountrySubDivisionCode}) taxed in ${Date.now() - t0} ms (SyncToken ${created} -> ${taxed.SyncToken}):`);
      // Our write comes back as QuickBooks' Update webhook: let it be re-read (it carries the tax: no second write).
      await fake.deliveriesIdle();
      await waitFor(async () => {
        const events = (await adminCall('GET', '/admin/events')).data as Json[];
        return events.every((e) => e.status !== 'pending' && e.status !== 'retrying') ? true : undefined;
      }, 20_000);
      say(`     TotalTax ${taxed.TxnTaxDetail.TotalTax.toFixed(2)} spread by QuickBooks over ${taxed.TxnTaxDetail.TaxLine.map((l) => `${l.TaxLineDetail.TaxPercent}% = ${l.Amount.toFixed(2)}`).join(' + ')}; TotalAmt ${taxed.TotalAmt.toFixed(2)}`);
      if (customer.ShipAddr?.CountrySubDivisionCode === 'TX') say('     (Texas taxes SaaS on 80% of the price: these are its own rates, applied to 80% of the amount)');
    },
    close: () => fake.close(),
  };
}
