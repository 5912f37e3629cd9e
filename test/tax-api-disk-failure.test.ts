/**
 * The tax API on a disk that refuses writes: answers are 503 with Retry-After and a stable code (never a 500),
 * /readyz says why, and both recover by themselves once the disk works again.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { startServer } from '../src/server/serve.ts';
import { faultyFs } from './helpers/faulty-fs.ts';

const ROOT = join(import.meta.dirname, '..');
const ADMIN = 'adm_' + 'd'.repeat(30);
const dir = mkdtempSync(join(tmpdir(), 'tb-taxdisk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await request(url, { method: method as 'GET', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('tax API when the disk fails', () => {
  it('answers 503 storage_unavailable with Retry-After, then recovers without a restart', async () => {
    const fs = faultyFs();
    const config = loadConfig({ data: dir, port: '0', connectors: join(ROOT, 'connectors') }, { TAXBRIDGE_MASTER_KEY: randomBytes(32).toString('base64'), TAXBRIDGE_ADMIN_TOKEN: ADMIN, TAXBRIDGE_SCHEDULES: 'false' }, ROOT);
    // The server's log is kept here and checked (the disk failure is logged as an error), not echoed into the test run.
    const logs: string[] = [];
    const s = await startServer(config, { writeLog: (l) => void logs.push(l), notice: () => undefined, storeFileOps: fs.ops });
    try {
      const admin = { authorization: `Bearer ${ADMIN}` };
      const org = (await call(`${s.url}/admin/organizations`, 'POST', { name: 'Disk Co', mode: 'test', default_product_tax_code: 'saas', origin_address: { country: 'US', state: 'TX', postal_code: '78701' } }, admin)).json.data;
      await call(`${s.url}/admin/organizations/${org.id}/registrations`, 'POST', { country: 'US', state: 'TX', effective_from: '2020-01-01' }, admin);
      const key = (await call(`${s.url}/admin/organizations/${org.id}/keys`, 'POST', {}, admin)).json.data.key as string;
      const calc = () =>
        call(`${s.url}/tax_api/calculate_tax`, 'POST', { currency: 'usd', customer_address: { city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, line_items: [{ id: 'li_1', amount: 10000, product_id: 'p1' }] }, { 'x-api-key': key });
      const first = await calc();
      expect(first.status, JSON.stringify(first.json)).toBe(200);

      fs.fail('ENOSPC', { match: /tax_calculations\.journal$/ });
      const statuses: number[] = [];
      let refused: Awaited<ReturnType<typeof calc>> | undefined;
      for (let i = 0; i < 20 && !refused; i++) {
        const r = await calc();
        statuses.push(r.status);
        if (r.status !== 200) refused = r;
        await new Promise((res) => setTimeout(res, 20));
      }
      expect(statuses, JSON.stringify(refused?.json)).not.toContain(500);
      expect(refused?.status).toBe(503);
      expect(refused?.json).toMatchObject({ type: 'api_error', code: expect.stringMatching(/^(storage_unavailable|recording_backlog)$/) });
      expect(refused?.headers['retry-after']).toBeDefined();
      expect((await call(`${s.url}/readyz`, 'GET')).status).toBe(503);
      const logged = logs.map((l) => JSON.parse(l) as { level: string; error?: { code?: string } }).filter((l) => l.level === 'error');
      expect(logged.length, logs.join('\n')).toBeGreaterThan(0);
      expect(logged.every((l) => l.error?.code === 'store_io'), logs.join('\n')).toBe(true);

      fs.heal();
      let ok = false;
      for (let i = 0; i < 200 && !ok; i++) {
        await new Promise((res) => setTimeout(res, 25));
        ok = (await call(`${s.url}/readyz`, 'GET')).status === 200 && (await calc()).status === 200;
      }
      expect(ok).toBe(true);
    } finally {
      fs.heal();
      await s.close();
    }
  });
});
