/**
 * A backfill interrupted by a shutdown resumes when the server starts again on the same data folder, and
 * ends with exactly the source's records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRillet, type FakeRillet } from '../fakes/index.ts';
import type { ServeConfig } from '../src/config/index.ts';
import type { ConnectionDoc } from '../src/connections/model.ts';
import type { RunningServer } from '../src/server/serve.ts';
import { createOrganization } from '../src/tax/orgs.ts';
import { inProcessConfig, startTestServer, until } from './helpers/e2e.ts';

let ril: FakeRillet;
let dataDir: string;
let config: ServeConfig;
const logs: string[] = [];

beforeAll(async () => {
  ril = await startFakeRillet({ counts: { customers: 250, products: 5, invoices: 20, creditNotes: 0 } });
  dataDir = mkdtempSync(join(tmpdir(), 'tb-backfill-'));
  config = inProcessConfig({ dataDir, env: { TAXBRIDGE_ADMIN_TOKEN: 'x'.repeat(24), TAXBRIDGE_SCHEDULES: 'false' } });
});
afterAll(async () => {
  await ril?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('backfill across a restart', () => {
  it('stops at a page boundary on shutdown and resumes at the next start', async () => {
    let server: RunningServer = await startTestServer(config, { writeLog: (l) => logs.push(l) });
    const org = await createOrganization(server.store, { name: 'Resume Co', mode: 'test' });
    ril.setLatency(150);
    const sub = [...ril.data.subsidiaries.values()][0]!.id;
    const r = await server.connections.connect({ connector: 'rillet', organization_id: org.id, credentials: { api_key: ril.apiKey, signing_token: ril.signingToken }, settings: { subsidiary_id: sub }, base_url: ril.url });
    const id = r.connection.id;
    // Stop while the customers (3 pages of 100) are being read.
    await until(async () => ((await server.store.countEntities(id, 'customers')).active >= 100 ? true : undefined), 'the first page of customers');
    await server.close('test restart');
    const mid = JSON.parse(logs.filter((l) => l.includes('"msg":"backfill stopped')).pop() ?? 'null');
    expect(mid).not.toBeNull();

    ril.setLatency(0);
    server = await startTestServer(config, { writeLog: (l) => logs.push(l) });
    try {
      const interrupted = await server.store.get<ConnectionDoc>('connections', id);
      expect(interrupted?.backfill?.status).toBe('running');
      const done = await until(async () => {
        const d = await server.store.get<ConnectionDoc>('connections', id);
        return d?.backfill?.status === 'succeeded' || d?.backfill?.status === 'failed' ? d : undefined;
      }, 'the resumed backfill to end');
      expect(done.backfill?.status, JSON.stringify(done.backfill)).toBe('succeeded');
      expect((await server.store.countEntities(id, 'customers')).active).toBe(ril.data.customers.size);
      expect((await server.store.countEntities(id, 'invoices')).active).toBe([...ril.data.invoices.values()].filter((i) => i.subsidiary_id === sub).length);
      // The customers stream continued from its checkpoint instead of starting over.
      const runs = await server.store.list<{ connection_id: string; stream: string; resumed_from_page?: number }>('sync_runs', (x) => x.connection_id === id && x.stream === 'customers');
      expect(runs.some((x) => (x.resumed_from_page ?? 0) > 1)).toBe(true);
    } finally {
      await server.close();
    }
  }, 60_000);
});
