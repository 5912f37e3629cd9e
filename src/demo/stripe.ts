/**
 * The demo's Stripe part: the fake Stripe (API 2025-03-31.basil). The tour connects it with a secret key
 * (taxbridge registers its webhook endpoint by API and keeps the secret Stripe returns), waits for the
 * backfill, then creates a subscription-style draft in Stripe: invoice.created arrives signed, and the tax
 * goes back onto the draft's lines as manual tax_amounts (form-encoded, one update_lines call) before
 * Stripe's finalization window closes.
 */
import { startFakeStripe, type FakeStripe } from '../../fakes/index.ts';

type Json = Record<string, any>;
type AdminCall = (method: string, path: string, body?: unknown) => Promise<Json>;

export interface StripeDemo {
  fake: FakeStripe;
  connect(o: { adminCall: AdminCall; organizationId: string; say: (line: string) => void }): Promise<string>;
  invoiceRoundTrip(o: { adminCall: AdminCall; connectionId: string; say: (line: string) => void; waitFor: <T>(fn: () => Promise<T | undefined> | T | undefined, ms: number) => Promise<T> }): Promise<void>;
  close(): Promise<void>;
}

const money = (minor: number) => (minor / 100).toFixed(2); // display only (USD), never arithmetic

export async function startStripeDemo(): Promise<StripeDemo> {
  const fake = await startFakeStripe({ seed: 7, counts: { customers: 10, products: 4, invoices: 20, creditNotes: 2 }, rateLimit: false });
  return {
    fake,
    async connect({ adminCall, organizationId, say }) {
      const c = (await adminCall('POST', '/admin/connections', { connector: 'stripe', organization_id: organizationId, environment: 'sandbox', base_url: fake.url, credentials: { secret_key: fake.secretKey } })).data;
      const ep = [...fake.data.webhookEndpoints.values()][0];
      say(`   connection ${c.connection.id}: ${c.connection.status}; webhook endpoint ${ep?.id ?? '(none)'} registered by API, its whsec_ secret kept encrypted; no tax API key (Stripe never calls it)`);
      return c.connection.id as string;
    },
    async invoiceRoundTrip({ adminCall, connectionId, say, waitFor }) {
      const austin = [...fake.data.customers.values()].find((x) => x.address?.city === 'Austin') ?? [...fake.data.customers.values()][0]!;
      const t0 = Date.now();
      const inv = fake.createInvoice({ customer: austin.id, currency: 'usd', lines: [{ amount: 120_000, description: 'Platform subscription' }, { amount: 4_999, description: 'Extra seats' }] });
      const lines = await waitFor(() => {
        const ls = fake.linesOf(inv.id);
        return ls.every((l) => (l.taxes ?? []).length > 0) ? ls : undefined;
      }, 20_000);
      // Stripe answers our write with invoice.updated: wait until taxbridge has processed that echo too
      // (it finds the tax already there and writes nothing).
      await fake.deliveriesIdle();
      await waitFor(async () => {
        const events = (await adminCall('GET', `/admin/events?connection=${connectionId}`)).data as Json[];
        return events.length > 0 && events.every((e) => e.status === 'processed' || e.status === 'ignored') ? events : undefined;
      }, 20_000);
      const write = fake.writes.find((w) => w.path === `/v1/invoices/${inv.id}/update_lines`);
      say(`   draft ${inv.id} for ${austin.name} (${austin.address?.city}, ${austin.address?.state}) taxed in ${Date.now() - t0} ms, still a draft (finalizes at ${new Date(inv.automatically_finalizes_at! * 1000).toISOString()}):`);
      for (const l of lines) say(`     ${String(l.description).padEnd(28)} ${money(l.amount).padStart(10)} USD  tax ${money(l.taxes.reduce((s, t) => s + t.amount, 0))}  (${l.taxes.length} tax_amounts)`);
      say(`     sent as ${write?.contentType}: ${write?.raw.slice(0, 96)}…`);
    },
    close: () => fake.close(),
  };
}
