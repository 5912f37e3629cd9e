import { createHttpClient, type HttpClient, type HttpClientOptions } from '../http/index.ts';
import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';
import { prepareConnection } from '../sync/connection.ts';

/**
 * A connection as the webhook and write-back parts see it: the loaded spec, the connection context with
 * decrypted credentials, and its organization. Connections, their storage and encryption live elsewhere;
 * these parts only ask for them through ConnectionLookup.
 */
export interface ResolvedConnection {
  spec: ConnectorSpec;
  conn: ConnectionContext;
  organizationId: string;
  /** Set while the connection cannot send (needs_reauthorization): write-backs wait instead of failing. */
  waiting?: string;
}

export interface ConnectionLookup {
  /** The connection whose webhook URL carries this token (undefined when none). */
  resolveConnection(token: string): Promise<ResolvedConnection | undefined>;
  /** The connection by id, for processing events and jobs off the request path. */
  loadConnection(connectionId: string): Promise<ResolvedConnection | undefined>;
}

/**
 * One HTTP client per connection, reused by event processing and write-back; replaced when the connection's
 * context changes (rotated credentials), closed on `close()`.
 */
export class ConnectionClients {
  private readonly clients = new Map<string, { spec: ConnectorSpec; conn: ConnectionContext; fingerprint: string; client: HttpClient }>();

  constructor(private readonly options: HttpClientOptions = {}) {}

  get(c: ResolvedConnection): HttpClient {
    const id = c.conn.connection_id;
    const fingerprint = JSON.stringify([c.conn.base_url, c.conn.environment, c.conn.credentials, c.conn.settings]);
    const hit = this.clients.get(id);
    if (hit && hit.spec === c.spec && hit.fingerprint === fingerprint) return hit.client;
    if (hit) void hit.client.close().catch(() => undefined);
    // Setting defaults applied and required values checked, as a sync does.
    const client = createHttpClient(c.spec, prepareConnection(c.spec, c.conn), this.options);
    this.clients.set(id, { spec: c.spec, conn: c.conn, fingerprint, client });
    return client;
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.allSettled(all.map((c) => c.client.close()));
  }
}
