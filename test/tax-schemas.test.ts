/** The stored organization, api_key and tax_calculation documents match their JSON Schemas (ajv strict). */
import { describe, expect, it } from 'vitest';
import { getAjv } from '../src/spec/schemas.ts';
import { startTaxServer } from './helpers/tax-server.ts';

describe('tax entity schemas', () => {
  it('validate the documents the tax part writes', async () => {
    const s = await startTaxServer();
    try {
      const org = await s.service.createOrganization({ name: 'S', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX', postal_code: '78701' } });
      await s.service.addRegistration(org.id, { country: 'US', state: 'TX', effective_from: '2020-01-01' });
      await s.service.addRegistration(org.id, { country: 'EU', effective_from: '2020-01-01' });
      await s.service.setProductTaxCode(org.id, { product_id: 'w', connection_id: 'conn_1', tax_code: 'general' });
      const { key } = await s.service.createApiKey(org.id, { name: 'k', rate_limit_per_second: 5 });
      const r = await s.post(
        '/tax_api/calculate_tax',
        { currency: 'usd', include_taxability_reason: true, customer_address: { state: 'TX', postal_code: '78701', country: 'US' }, line_items: [{ id: 1, amount: 100, product_id: 'w' }, { amount: 5, product_id: 'p', tax_inclusive: true }] },
        { 'x-api-key': key },
      );
      expect(r.status).toBe(200);
      await s.service.flush();
      const ajv = getAjv();
      for (const [collection, entity] of [['organizations', 'organization'], ['api_keys', 'api_key'], ['tax_calculations', 'tax_calculation']] as const) {
        const validate = ajv.getSchema(`https://taxbridge.dev/schemas/entities/${entity}.schema.json`)!;
        expect(validate).toBeTruthy();
        const docs = await s.store.list(collection);
        expect(docs.length).toBeGreaterThan(0);
        for (const d of docs) expect(validate(d), `${entity}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }
    } finally {
      await s.close();
    }
  });
});
