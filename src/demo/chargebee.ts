/**
 * The demo's Chargebee part: the fake Chargebee (one site) and connectors/chargebee.yaml pointed at it with
 * the admin base_url override (the fake's `/sites/<site>/api/v2` path; plain http to loopback is accepted
 * because the demo sets allow_insecure_loopback). Chargebee is import only: the tour connects the site with
 * its API key (the webhook is registered by API with generated Basic credentials), waits for the backfill,
 * then creates an invoice in Chargebee and shows it arriving through the Basic-auth webhook, amounts
 * converted exactly from cents. No tax is written back: Chargebee has no endpoint for it.
 */
import { startFakeChargebee, type FakeChargebee } from '../../fakes/index.ts';
import { formatAmount } from '../money/amount.ts';

type Json = Record<string, any>;
type AdminCall = (method: string, path: string, body?: unknown) => Promise<Json>;
type WaitFor = <T>(fn: () => Promise<T | undefined> | T | undefined, ms: number) => Promise<T>;

export interface ChargebeeDemo {
  fake: FakeChargebee;
  connect(o: { adminCall: AdminCall; organizationId: string; say: (line: string) => void }): Promise<string>;
  invoiceImport(o: { adminCall: AdminCall; connectionId: string; say: (line: string) => void; waitFor: WaitFor }): Promise<void>;
  close(): Promise<void>;
}

export async function startChargebeeDemo(): Promise<ChargebeeDemo> {
  const fake = await startFakeChargebee({ seed: 7, site: 'demo-saas-test', rateLimit: false, counts: { customers: 12, items: 4, invoices: 30, creditNotes: 3 } });
  return {
    fake,
    async connect({ adminCall, organizationId, say }) {
      const c = (await adminCall('POST', '/admin/connections', {
        connector: 'chargebee', organization_id: organizationId, environment: 'sandbox',
        settings: { site: fake.site }, credentials: { api_key: fake.apiKey }, base_url: fake.siteUrl(),
      })).data;
      const cred = fake.data.endpointCredentials.get(c.connection.webhook?.registration_id);
      say(`   connection ${c.connection.id}: ${c.connection.status}; webhook ${c.connection.webhook?.registration_id} registered with Basic user "${cred?.username}" and a generated password; no tax API key (Chargebee never calls it)`);
      return c.connection.id as string;
    },
    async invoiceImport({ adminCall, connectionId, say, waitFor }) {
      const before = (await adminCall('GET', `/admin/connections/${connectionId}`)).data.sync.invoices.counts.active as number;
      const inv = fake.createInvoice({ lineCount: 2 });
      await fake.deliveriesIdle();
      await waitFor(async () => ((await adminCall('GET', `/admin/connections/${connectionId}`)).data.sync.invoices.counts.active > before ? true : undefined), 20_000);
      const dec = (minor: number) => formatAmount(BigInt(minor), inv.currency_code);
      say(`   invoice ${inv.id} (${inv.status}) arrived by the Basic-auth webhook: sub_total ${inv.sub_total} -> ${dec(inv.sub_total)}, tax ${inv.tax} -> ${dec(inv.tax)}, total ${inv.total} -> ${dec(inv.total)} ${inv.currency_code}`);
      say('   (import only: Chargebee computes its own tax and has no endpoint to put an outside engine\'s tax on an invoice)');
    },
    close: () => fake.close(),
  };
}
