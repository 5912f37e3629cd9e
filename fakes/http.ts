/** Small HTTP plumbing shared by the fakes: errors, raw body reading, the koa app, listening and closing. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';

/**
 * An API error; each fake renders it in its own error format. `details` carries format-specific
 * extras (Sequence's `errors[]`, Rillet's `errors[]`), `headers` extra response headers.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const BODY_LIMIT = 5 * 1024 * 1024;

/** The raw request body as text (read once; later calls return the same string). */
export async function readRawBody(ctx: Koa.Context): Promise<string> {
  const state = ctx.state as { rawBody?: string };
  if (state.rawBody !== undefined) return state.rawBody;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw new ApiError(413, 'payloadTooLarge', `request body exceeds ${BODY_LIMIT} bytes`);
    chunks.push(chunk);
  }
  state.rawBody = Buffer.concat(chunks).toString('utf8');
  return state.rawBody;
}

/** Parse the body as JSON; an empty body is `undefined`. */
export async function readJson(ctx: Koa.Context): Promise<unknown> {
  const raw = await readRawBody(ctx);
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    throw new ApiError(400, 'invalidJson', `request body is not valid JSON: ${(e as Error).message}`);
  }
}

/** First value of a query parameter. */
export function queryParam(ctx: Koa.Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (Array.isArray(v)) return v[0];
  return v;
}

/** All values of a query parameter, repeated or comma-separated. */
export function queryList(ctx: Koa.Context, name: string): string[] | undefined {
  const v = ctx.query[name];
  if (v === undefined) return undefined;
  const arr = Array.isArray(v) ? v : [v];
  return arr.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** A koa app that prints nothing on errors: the fakes answer them in their own format. */
export function quietApp(): Koa {
  const app = new Koa();
  app.silent = true;
  app.on('error', () => {});
  return app;
}

export interface Listening {
  server: http.Server;
  port: number;
  origin: string;
  close(): Promise<void>;
}

/** Serve a koa app on 127.0.0.1 (port 0 = random). */
export async function listen(app: Koa, port = 0): Promise<Listening> {
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    server,
    port: addr.port,
    origin: `http://127.0.0.1:${addr.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
