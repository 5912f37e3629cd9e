/**
 * calculate_invoice_tax on a real socket for write-back tests: the tax API's invoice route over a webhook
 * harness (its write-back queue and records), with a tax API key for the connection's organization.
 */
import Koa from 'koa';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInvoiceTaxRouter } from '../../src/server/webhooks-api.ts';
import type { Store } from '../../src/store/types.ts';
import { TaxService } from '../../src/tax/service.ts';
import { sharedTaxData, type Harness, type TestConnection } from '../fixtures/webhooks/harness.ts';

export interface InvoiceTaxApi {
  origin: string;
  /** X-API-KEY of `conn`'s organization. */
  apiKey: string;
  close(): Promise<void>;
}

/** Serves `conn` (and only it) as `connector` of its organization. */
export async function startInvoiceTaxApi(o: { store: Store; harness: Harness; conn: TestConnection; connector: string }): Promise<InvoiceTaxApi> {
  const tax = await TaxService.open({ store: o.store, data: sharedTaxData() });
  const apiKey = (await tax.createApiKey(o.conn.organizationId)).key;
  const app = new Koa();
  app.use(
    createInvoiceTaxRouter({
      service: tax,
      writebacks: o.harness.runtime.writebacks!,
      records: o.harness.runtime.records,
      findConnection: async (orgId, connector) => (orgId === o.conn.organizationId && connector === o.connector ? o.conn : undefined),
    }).routes(),
  );
  const server = http.createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    apiKey,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
