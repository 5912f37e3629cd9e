/**
 * Open alerts kept in the store (src/alerts/ledger.ts): two replicas on one PostgreSQL database that both see a
 * condition send one `firing` and one `resolved`; a condition raised on one replica is resolved by what the
 * other sees; a restart on the embedded store neither fires an open alert again nor forgets to resolve it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAlertsConfig, startAlerts, type RunningAlerts } from '../src/alerts/index.ts';
import { emitOpsEvent, type OpsEvent } from '../src/metrics/events.ts';
import { openStore } from '../src/store/index.ts';
import { PostgresStore } from '../src/store/postgres/store.ts';
import type { Store } from '../src/store/types.ts';
import { createTestDatabase, schemaUrl, type TestDatabase } from './helpers/pg.ts';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.ts';

let receiver: Receiver;
let db: TestDatabase;
const dirs: string[] = [];

const dead = (connectionId: string): OpsEvent => ({ kind: 'writeback', connectionId, connector: 'rillet', jobId: 'wb_1', documentId: 'inv_1', status: 'dead', error: { code: 'HTTP_PERMANENT', message: 'refused' } });
const applied = (connectionId: string): OpsEvent => ({ kind: 'writeback', connectionId, connector: 'rillet', jobId: 'wb_2', documentId: 'inv_2', status: 'applied' });

function alertsOn(store: Store): RunningAlerts {
  const config = parseAlertsConfig(undefined, { TAXBRIDGE_ALERT_URLS: receiver.url, TAXBRIDGE_ALERT_SECRET: `whsec_${randomBytes(24).toString('base64')}` }, 'test', process.cwd());
  return startAlerts({ config, store, backoff: { initialMs: 10, maxMs: 50 } })!;
}

const received = (connectionId: string) => receiver.got.map((g) => JSON.parse(g.body).data).filter((d) => d.connection_id === connectionId);

async function settle(...alerts: RunningAlerts[]): Promise<void> {
  for (let i = 0; i < 3; i++) for (const a of alerts) await a.idle();
  // Deliveries are in flight once queued; give the receiver a moment to count them.
  await new Promise((r) => setTimeout(r, 100));
}

async function replicas(): Promise<[PostgresStore, PostgresStore]> {
  const schema = `s_${randomBytes(5).toString('hex')}`;
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
  const a = await PostgresStore.open({ url: schemaUrl(db, schema), poolSize: 2 });
  const b = await PostgresStore.open({ url: schemaUrl(db, schema), poolSize: 2 });
  return [a, b];
}

beforeAll(async () => {
  receiver = await startReceiver();
  db = await createTestDatabase();
}, 30_000);

afterAll(async () => {
  await receiver?.close();
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 30_000);

describe('alerts shared by replicas on PostgreSQL', () => {
  it('both replicas see a dead write-back: one firing, and one resolved when write-backs are applied again', async () => {
    const [sa, sb] = await replicas();
    const a = alertsOn(sa);
    const b = alertsOn(sb);
    try {
      emitOpsEvent(dead('conn_both')); // every replica's listener hears it
      await settle(a, b);
      expect(received('conn_both').map((d) => d.status)).toEqual(['firing']);
      emitOpsEvent(dead('conn_both'));
      emitOpsEvent(applied('conn_both'));
      await settle(a, b);
      expect(received('conn_both').map((d) => d.status)).toEqual(['firing', 'resolved']);
    } finally {
      await a.stop();
      await b.stop();
      await sa.close();
      await sb.close();
    }
  }, 30_000);

  it('raised on one replica, resolved by what the other sees (it learns of the open alert from the store)', async () => {
    const [sa, sb] = await replicas();
    const a = alertsOn(sa);
    const b = alertsOn(sb);
    try {
      a.conditions.handle(dead('conn_moved'));
      await settle(a, b);
      expect(received('conn_moved').map((d) => d.status)).toEqual(['firing']);
      await b.check(); // the periodic check reads the open alerts (a change notice may have done it already)
      b.conditions.handle(applied('conn_moved'));
      await settle(a, b);
      expect(received('conn_moved').map((d) => d.status)).toEqual(['firing', 'resolved']);
      // Resolved everywhere: the next failure fires again, once.
      await a.check();
      a.conditions.handle(dead('conn_moved'));
      b.conditions.handle(dead('conn_moved'));
      await settle(a, b);
      expect(received('conn_moved').map((d) => d.status)).toEqual(['firing', 'resolved', 'firing']);
    } finally {
      await a.stop();
      await b.stop();
      await sa.close();
      await sb.close();
    }
  }, 30_000);
});

describe('alerts across a restart (embedded store)', () => {
  it('an alert open before the restart is not sent again, and is resolved after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tb-alerts-'));
    dirs.push(dir);
    let store = await openStore({ dir });
    let alerts = alertsOn(store);
    alerts.conditions.handle(dead('conn_restart'));
    await settle(alerts);
    await alerts.stop();
    await store.close();

    store = await openStore({ dir });
    alerts = alertsOn(store);
    try {
      await alerts.check();
      alerts.conditions.handle(dead('conn_restart'));
      await settle(alerts);
      expect(received('conn_restart').map((d) => d.status)).toEqual(['firing']);
      alerts.conditions.handle(applied('conn_restart'));
      await settle(alerts);
      const got = received('conn_restart');
      expect(got.map((d) => d.status)).toEqual(['firing', 'resolved']);
      expect(got[1].alert_id).toBe(got[0].alert_id);
    } finally {
      await alerts.stop();
      await store.close();
    }
  }, 30_000);
});
