/**
 * Which alerts are open, kept in the store so that replicas sharing it (and a restarted process) agree: a
 * condition fires when this replica is the one that inserts its row, and resolves when this replica is the one
 * that deletes it. Others learn of both through the store's change notices, so a condition raised on one
 * replica can be cleared by what another one sees (a sync that succeeds after its lease moved).
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/types.ts';
import type { AlertFacts } from './event.ts';

export const ALERTS_COLLECTION = 'alerts_open';
const TOPIC = 'taxbridge_alerts';

/** One open alert as stored: what fired and when (the resolution repeats them). */
export interface OpenAlert {
  key: string;
  facts: AlertFacts;
  started_at: string;
}

export interface AlertLedger {
  /** Alerts open now (loaded at start). */
  openAlerts(): Promise<OpenAlert[]>;
  /** Opens `alert` unless it is open already; `fired` is true for the caller that opened it. */
  claim(alert: OpenAlert): Promise<{ fired: boolean; alert: OpenAlert }>;
  /** Closes the alert; the stored one for the caller that closed it, undefined when it was not open. */
  release(key: string): Promise<OpenAlert | undefined>;
  /** Opened / closed elsewhere (another replica; this ledger's own notices are not repeated to it). */
  watch(fn: (change: { open: boolean; key: string }) => void): Promise<() => Promise<void>>;
}

/** Alert keys join ids with NUL, which PostgreSQL's JSONB cannot hold: ids and stored keys are hex. */
function idOf(key: string): string {
  return Buffer.from(key, 'utf8').toString('hex');
}

interface StoredAlert {
  key_hex: string;
  facts: AlertFacts;
  started_at: string;
}

/** NUL in a fact (an upstream's error text) becomes U+FFFD: JSONB refuses NUL, and the alert is text for people. */
function storable(a: OpenAlert): StoredAlert {
  const facts = JSON.parse(JSON.stringify(a.facts, (_k, v: unknown) => (typeof v === 'string' ? v.replaceAll('\u0000', '\ufffd') : v))) as AlertFacts;
  return { key_hex: idOf(a.key), facts, started_at: a.started_at };
}

function fromStored(d: StoredAlert): OpenAlert {
  return { key: Buffer.from(d.key_hex, 'hex').toString('utf8'), facts: d.facts, started_at: d.started_at };
}

export function storeLedger(store: Store): AlertLedger {
  const self = randomUUID();
  const announce = (open: boolean, key: string) => store.publish(TOPIC, JSON.stringify({ open, key_hex: idOf(key), from: self })).catch(() => undefined);
  return {
    async openAlerts() {
      const out: OpenAlert[] = [];
      await store.scan<StoredAlert>(ALERTS_COLLECTION, (d) => void out.push(fromStored(d)));
      return out;
    },
    async claim(alert) {
      if (await store.insertIfAbsent(ALERTS_COLLECTION, idOf(alert.key), storable(alert))) {
        await announce(true, alert.key);
        return { fired: true, alert };
      }
      const existing = await store.get<StoredAlert>(ALERTS_COLLECTION, idOf(alert.key));
      return { fired: false, alert: existing ? fromStored(existing) : alert };
    },
    async release(key) {
      const existing = await store.get<StoredAlert>(ALERTS_COLLECTION, idOf(key));
      if (!existing || !(await store.delete(ALERTS_COLLECTION, idOf(key)))) return undefined;
      await announce(false, key);
      return fromStored(existing);
    },
    watch(fn) {
      return store.subscribe(TOPIC, (message) => {
        try {
          const m = JSON.parse(message) as { open?: unknown; key_hex?: unknown; from?: unknown };
          if (m.from !== self && typeof m.key_hex === 'string' && typeof m.open === 'boolean') fn({ open: m.open, key: Buffer.from(m.key_hex, 'hex').toString('utf8') });
        } catch {
          // Not ours: ignored.
        }
      });
    },
  };
}
