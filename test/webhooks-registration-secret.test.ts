/**
 * Registration whose signing secret comes back (spec `webhooks.registration.secret`), against the fake
 * Stripe over sockets: connecting registers the endpoint, the whsec_ secret Stripe returns once is stored
 * sealed as the connection's credential and verifies Stripe-Signature deliveries; disconnecting deletes the
 * endpoint; a response without a secret fails the registration and leaves no endpoint behind.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeStripe, type FakeStripe } from '../fakes/stripe.ts';
import { CONNECTIONS, type ConnectionDoc } from '../src/connections/model.ts';
import { ConnectorRegistry } from '../src/connections/registry.ts';
import { SecretBox, createKeyring, parseMasterKey } from '../src/connections/secrets.ts';
import { ConnectionService } from '../src/connections/service.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { createOrganization } from '../src/tax/orgs.ts';
import { registerWebhook, webhookRegistrar } from '../src/webhooks/registration.ts';
import { connection, startHarness, type Harness } from './fixtures/webhooks/harness.ts';

const DIR = join(import.meta.dirname, 'fixtures', 'webhook-registration');
let stripe: FakeStripe;
let store: Store;
let svc: ConnectionService;
let org: string;
const registry = ConnectorRegistry.load(DIR);

beforeAll(async () => {
  stripe = await startFakeStripe();
  store = await openStore({ memory: true });
  svc = new ConnectionService({
    store,
    registry,
    box: new SecretBox(createKeyring(parseMasterKey(randomBytes(32).toString('base64'), 'test'))),
    publicUrl: 'https://taxbridge.example.com',
    registrar: webhookRegistrar(store),
  });
  org = (await createOrganization(store, { name: 'Live Co', mode: 'live' })).id;
});
afterAll(async () => {
  await store?.close();
  await stripe?.close();
});

describe('webhooks.registration.secret (Stripe returns whsec_ once)', () => {
  let doc: ConnectionDoc;
  let h: Harness | undefined;
  afterAll(async () => h?.close());

  it('stores the returned secret sealed, and it verifies Stripe-signed deliveries', async () => {
    const r = await svc.connect({ connector: 'stripereg', organization_id: org, credentials: { secret_key: stripe.secretKey }, base_url: stripe.url });
    doc = (await store.get<ConnectionDoc>(CONNECTIONS, r.connection.id))!;
    expect(doc.webhook.mode).toBe('api');
    const ep = stripe.data.webhookEndpoints.get(doc.webhook.registration_id!)!;
    expect(ep.url).toBe(`https://taxbridge.example.com/webhooks/${doc.webhook_token}`);
    const secret = stripe.data.endpointSecrets.get(ep.id)!;
    expect(secret).toMatch(/^whsec_/);
    expect(doc.credentials.webhook_secret).toMatch(/^enc:v1:/);
    expect(JSON.stringify(doc)).not.toContain(secret);
    expect(svc.context(doc).credentials.webhook_secret).toBe(secret);

    const spec = registry.get('stripereg').spec;
    const c = connection(spec, org, { ...svc.context(doc), base_url: stripe.url, credentials: svc.context(doc).credentials }, doc.webhook_token!);
    h = await startHarness({ connections: [c], writeback: false });
    const ok = await stripe.sendWebhook(h.webhookUrl(c), { type: 'customer.updated', object: { id: 'cus_1', object: 'customer' } }, { secret });
    expect(ok.status).toBe(200);
    const bad = await stripe.sendWebhook(h.webhookUrl(c), { type: 'customer.updated', object: { id: 'cus_1', object: 'customer' } }, { secret: 'whsec_other' });
    expect(bad.status).toBe(401);
  });

  it('deletes the endpoint at Stripe on disconnect', async () => {
    const id = doc.webhook.registration_id!;
    expect(stripe.data.webhookEndpoints.has(id)).toBe(true);
    await svc.disconnect(doc.id);
    expect(stripe.data.webhookEndpoints.has(id)).toBe(false);
  });

  it('fails a registration whose response carries no secret, and removes the endpoint it made', async () => {
    const spec = registry.get('stripereg').spec;
    const noSecret = { ...spec, webhooks: { ...spec.webhooks!, registration: { ...spec.webhooks!.registration!, secret: 'body.not_there' } } };
    const before = stripe.data.webhookEndpoints.size;
    const conn = { connection_id: 'conn_x', environment: 'production' as const, base_url: stripe.url, credentials: { secret_key: stripe.secretKey }, settings: {} };
    await expect(registerWebhook(noSecret, conn, { url: 'https://taxbridge.example.com/webhooks/whk_x' })).rejects.toMatchObject({ code: 'WEBHOOK_REGISTRATION_FAILED' });
    expect(stripe.data.webhookEndpoints.size).toBe(before);
  });
});
