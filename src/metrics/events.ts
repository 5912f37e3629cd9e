/**
 * Operational events, raised by one-line hooks at the places things happen (./hooks.ts) and read by whoever
 * listens: the metric families count them, the alert conditions (src/alerts) fire and clear on them. Listeners
 * run synchronously and must not block; a throwing listener is contained here so that it can never fail the
 * work that raised the event.
 */

export interface OpsError {
  code: string;
  message: string;
}

export type OpsEvent =
  /** One stream's sync run ended (the HTTP engine's retries are behind it). */
  | { kind: 'sync_stream'; connectionId: string; connector: string; stream: string; status: 'ok' | 'failed' | 'skipped'; records: number; durationMs: number; error?: OpsError }
  /** A sync run failed as a whole (before or around its streams). */
  | { kind: 'sync_run_failed'; connectionId: string; connector: string; error: OpsError }
  /** A write-back job reached an outcome (final, or a retry scheduled). */
  | { kind: 'writeback'; connectionId: string; connector: string; jobId: string; documentId: string; status: string; error?: OpsError }
  /** The system refused the connection's grant: it waits for a new consent. */
  | { kind: 'connection_needs_reauthorization'; connectionId: string; connector: string; reason: string }
  /** A connection became active (again): authorized, or its credentials replaced. */
  | { kind: 'connection_active'; connectionId: string; connector: string }
  /** A webhook delivery was answered. `connectionId` when the URL named one; `status` the HTTP status. */
  | { kind: 'webhook_delivery'; connector?: string; connectionId?: string; outcome: 'accepted' | 'duplicate' | 'refused'; status: number; code?: string };

type Listener = (e: OpsEvent) => void;

const listeners = new Set<Listener>();
let onListenerError: (e: unknown) => void = () => undefined;

/** Adds a listener; returns its removal. */
export function onOpsEvent(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Where a listener's exception is reported (the server's log); default: ignored. */
export function reportListenerErrors(report: (e: unknown) => void): void {
  onListenerError = report;
}

export function emitOpsEvent(e: OpsEvent): void {
  for (const l of listeners) {
    try {
      l(e);
    } catch (err) {
      try {
        onListenerError(err);
      } catch {
        // A failing report must not reach the work either.
      }
    }
  }
}
