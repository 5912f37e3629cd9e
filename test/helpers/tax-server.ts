/** Starts the tax API and admin API on 127.0.0.1:0 over a MemoryStore (or the store given), for tests. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa from 'koa';
import { request } from 'undici';
import { loadTaxData, type TaxData } from '../../src/tax/rates/index.ts';
import { TaxService, type TaxServiceOptions } from '../../src/tax/service.ts';
import { createTaxApiRouter } from '../../src/server/tax-api.ts';
import { createAdminApiRouter } from '../../src/server/admin-api.ts';
import { MemoryStore } from './tax-memory-store.ts';
import type { Store } from '../../src/store/types.ts';

let data: TaxData | undefined;
export function taxData(): TaxData {
  return (data ??= loadTaxData());
}

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

export interface TaxServer<S extends Store = MemoryStore> {
  url: string;
  store: S;
  service: TaxService;
  server: Server;
  close(): Promise<void>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: any; text: string }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: any; text: string }>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
}

export async function startTaxServer(opts?: Partial<Omit<TaxServiceOptions, 'store'>> & { maxBodyBytes?: number }): Promise<TaxServer>;
export async function startTaxServer<S extends Store>(opts: Partial<Omit<TaxServiceOptions, 'store'>> & { maxBodyBytes?: number; store: S }): Promise<TaxServer<S>>;
export async function startTaxServer(opts: Partial<TaxServiceOptions> & { maxBodyBytes?: number } = {}): Promise<TaxServer<Store>> {
  const store = opts.store ?? new MemoryStore();
  const service = await TaxService.open({ store, data: taxData(), rateLimitPerSecond: 10_000, ...opts });
  const app = new Koa();
  const tax = createTaxApiRouter({ service, maxBodyBytes: opts.maxBodyBytes });
  const admin = createAdminApiRouter({ service, adminToken: ADMIN_TOKEN });
  app.use(tax.routes()).use(admin.routes());
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await request(url + path, {
      method: method as 'GET',
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, json, text };
  };
  return {
    url,
    store,
    service,
    server,
    post: (path, body, headers) => call('POST', path, body, headers),
    get: (path, headers) => call('GET', path, undefined, headers),
    admin: async (method, path, body) => {
      const r = await call(method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
      return { status: r.status, json: r.json };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await service.close();
    },
  };
}
