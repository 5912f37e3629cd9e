import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readWireBody, type WireBody } from './wire.ts';

/** A recorded response and the request it answers. */
export interface RecordedResponse {
  request: { method?: string; path: string; query?: Record<string, string> };
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  repeat?: boolean;
}

/** A request as the replay server received it: the bytes of its body kept, and decoded per its Content-Type. */
export interface SeenRequest extends WireBody {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** True when no recorded response matched. */
  unmatched: boolean;
}

/**
 * A loopback HTTP server that answers with recorded responses, so spec tests run a connector's real
 * requests, pagination and mappings with no network. Requests nobody recorded get a 404 and are listed.
 */
export class ReplayServer {
  readonly seen: SeenRequest[] = [];
  private used = new Set<number>();
  private server: Server;
  url = '';

  constructor(
    private responses: RecordedResponse[],
    /** Answer unrecorded writes (POST/PUT/PATCH/DELETE) with 200 {} — write-back cases need no recording. */
    private acceptWrites = false,
  ) {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, headers, body }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body === undefined ? '' : JSON.stringify(body));
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; headers?: Record<string, string>; body?: unknown }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://replay');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query: Object.fromEntries(url.searchParams),
      headers,
      ...readWireBody(Buffer.concat(chunks), headers['content-type']),
      unmatched: false,
    };
    this.seen.push(seen);
    const index = this.responses.findIndex((r, i) => (r.repeat || !this.used.has(i)) && matches(r, seen));
    if (index < 0) {
      if (this.acceptWrites && seen.method !== 'GET') return { status: 200, body: {} };
      seen.unmatched = true;
      return { status: 404, body: { error: `no recorded response for ${seen.method} ${url.pathname}${url.search}` } };
    }
    this.used.add(index);
    const r = this.responses[index]!;
    return { status: r.status ?? 200, headers: r.headers, body: r.body };
  }
}

function matches(r: RecordedResponse, seen: SeenRequest): boolean {
  if ((r.request.method ?? 'GET') !== seen.method) return false;
  if (r.request.path !== seen.path) return false;
  return Object.entries(r.request.query ?? {}).every(([k, v]) => seen.query[k] === String(v));
}
