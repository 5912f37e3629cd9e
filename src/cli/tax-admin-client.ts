/**
 * What `taxbridge org | key | region` share: an admin backend that is either the data folder opened by this
 * process (the store, through src/tax/orgs.ts and keys.ts) or, when `taxbridge serve` holds the folder (or
 * `--server` is given) and an admin token is at hand, the running server's admin API (src/server/admin-api.ts).
 * Both give the same documents, so the commands print the same either way.
 */
import { adminApiClient, configuredServerUrl } from './admin-api-client.ts';
import type { DataFolderValues } from './data-folder-options.ts';
import { TaxbridgeError } from '../errors.ts';
import { loadConfig } from '../config/index.ts';
import { openConfiguredStore } from '../store/index.ts';
import type { Store } from '../store/types.ts';
import { createApiKey, listApiKeys, publicKeyView, revokeApiKey, type CreateApiKeyInput } from '../tax/keys.ts';
import type { ApiKeyDoc, Organization, Registration } from '../tax/model.ts';
import * as orgs from '../tax/orgs.ts';

export { DATA_FOLDER_OPTIONS as COMMON_OPTIONS, DATA_FOLDER_USAGE as COMMON_USAGE } from './data-folder-options.ts';
export type { DataFolderValues as CommonValues } from './data-folder-options.ts';

export type PublicKey = Omit<ApiKeyDoc, 'hash'>;

/** The operations the tax admin commands need, locally or over the admin API. */
export interface TaxAdmin {
  listOrganizations(): Promise<Organization[]>;
  getOrganization(id: string): Promise<Organization>;
  createOrganization(input: orgs.CreateOrganizationInput): Promise<Organization>;
  updateOrganization(id: string, patch: orgs.UpdateOrganizationInput): Promise<Organization>;
  setProductTaxCode(orgId: string, input: orgs.ProductTaxCodeInput): Promise<unknown>;
  removeProductTaxCode(orgId: string, productId: string, connectionId?: string): Promise<void>;
  addRegistration(orgId: string, input: orgs.RegistrationInput): Promise<Registration>;
  updateRegistration(orgId: string, ref: string, patch: { tax_calculation?: boolean; effective_from?: string }): Promise<Registration>;
  removeRegistration(orgId: string, ref: string): Promise<void>;
  createApiKey(orgId: string, input: CreateApiKeyInput): Promise<PublicKey & { key: string }>;
  listApiKeys(orgId?: string): Promise<PublicKey[]>;
  revokeApiKey(ref: string): Promise<PublicKey>;
  close(): Promise<void>;
}

export async function openTaxAdmin(v: DataFolderValues, env: NodeJS.ProcessEnv = process.env): Promise<TaxAdmin> {
  const config = loadConfig({ data: v.data, config: v.config, databaseUrl: v['database-url'] }, env);
  const token = v['admin-token'] ?? env.TAXBRIDGE_ADMIN_TOKEN;
  const source = v['admin-token'] ? '--admin-token' : 'TAXBRIDGE_ADMIN_TOKEN';
  const server = v.server ?? (env.TAXBRIDGE_SERVER || undefined);
  if (server) return remote(server, token, source);
  let store: Store;
  try {
    store = await openConfiguredStore(config);
  } catch (e) {
    if ((e as { code?: string }).code === 'STORE_LOCKED') {
      if (token) return remote(configuredServerUrl(config), token, source);
      throw new TaxbridgeError('STORE_LOCKED', (e as Error).message, {
        hint: 'taxbridge serve is using this data folder: set TAXBRIDGE_ADMIN_TOKEN (or pass --server <url> --admin-token <token>) to go through its admin API, or stop the server first',
      });
    }
    throw e;
  }
  return local(store);
}

/** The admin operations straight over a store (also used by tests). */
export function local(store: Store): TaxAdmin {
  return {
    listOrganizations: () => orgs.listOrganizations(store),
    getOrganization: (id) => orgs.getOrganization(store, id),
    createOrganization: (input) => orgs.createOrganization(store, input),
    updateOrganization: (id, patch) => orgs.updateOrganization(store, id, patch),
    setProductTaxCode: (id, input) => orgs.setProductTaxCode(store, id, input),
    removeProductTaxCode: async (id, p, c) => void (await orgs.removeProductTaxCode(store, id, p, c)),
    addRegistration: async (id, input) => (await orgs.addRegistration(store, id, input)).registration,
    updateRegistration: async (id, ref, patch) => (await orgs.updateRegistration(store, id, ref, patch)).registration,
    removeRegistration: async (id, ref) => void (await orgs.removeRegistration(store, id, ref)),
    createApiKey: async (id, input) => {
      const r = await createApiKey(store, id, input);
      return { key: r.key, ...publicKeyView(r.doc) };
    },
    listApiKeys: async (id) => {
      if (id) await orgs.getOrganization(store, id);
      return (await listApiKeys(store, id)).map(publicKeyView);
    },
    revokeApiKey: async (ref) => publicKeyView(await revokeApiKey(store, ref)),
    close: async () => {
      await store.flush();
      await store.close();
    },
  };
}

function remote(server: string, token: string | undefined, tokenSource: string): TaxAdmin {
  const api = adminApiClient(server, token, 30_000, tokenSource);
  const o = (id: string) => `/admin/organizations/${encodeURIComponent(id)}`;
  return {
    listOrganizations: () => api('GET', '/admin/organizations'),
    getOrganization: (id) => api('GET', o(id)),
    createOrganization: (input) => api('POST', '/admin/organizations', input),
    updateOrganization: (id, patch) => api('PATCH', o(id), patch),
    setProductTaxCode: (id, input) => api('POST', `${o(id)}/product_tax_codes`, input),
    removeProductTaxCode: async (id, p, c) =>
      void (await api('DELETE', `${o(id)}/product_tax_codes?${new URLSearchParams({ product_id: p, ...(c ? { connection_id: c } : {}) })}`)),
    addRegistration: (id, input) => api('POST', `${o(id)}/registrations`, input),
    updateRegistration: (id, ref, patch) => api('PATCH', `${o(id)}/registrations/${encodeURIComponent(ref)}`, patch),
    removeRegistration: async (id, ref) => void (await api('DELETE', `${o(id)}/registrations/${encodeURIComponent(ref)}`)),
    createApiKey: (id, input) => api('POST', `${o(id)}/keys`, input),
    listApiKeys: (id) => (id ? api('GET', `${o(id)}/keys`) : api('GET', '/admin/keys')),
    revokeApiKey: (ref) => api('DELETE', `/admin/keys/${encodeURIComponent(ref)}`),
    close: async () => undefined,
  };
}

/** Runs `fn` with an admin backend and always closes it. */
export async function withTaxAdmin<T>(v: DataFolderValues, fn: (admin: TaxAdmin) => Promise<T>): Promise<T> {
  const admin = await openTaxAdmin(v);
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

// ------------------------------------------------------------------------------------------- printing

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((x, i) => (x ?? '').padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}

export function regionName(r: Pick<Registration, 'country' | 'state'>): string {
  return r.state ? `${r.country}-${r.state}` : r.country;
}

export function formatAddress(a: Organization['origin_address']): string {
  if (!a) return '-';
  return [a.line1, a.line2, a.city, [a.state, a.postal_code].filter(Boolean).join(' '), a.country].filter((x) => x && String(x).trim()).join(', ');
}

export function formatOrganization(org: Organization, keys?: PublicKey[]): string {
  const lines = [
    `${org.name} (${org.id})`,
    `  mode:                ${org.mode}`,
    `  origin address:      ${formatAddress(org.origin_address)}`,
    `  default tax code:    ${org.default_product_tax_code ?? '- (products need their own)'}`,
    `  created:             ${org.created_at}`,
    '',
    `  Registrations (${org.registrations.length}):`,
  ];
  for (const r of org.registrations) lines.push(`    ${regionName(r).padEnd(8)} ${r.tax_calculation ? 'tax calculation ON ' : 'tax calculation OFF'}  from ${r.effective_from}  ${r.id}`);
  if (!org.registrations.length) lines.push('    none: no tax is calculated anywhere (add one with `taxbridge region add`)');
  lines.push('', `  Product tax codes (${org.product_tax_codes.length}):`);
  for (const p of org.product_tax_codes) lines.push(`    ${p.product_id}${p.connection_id ? ` (connection ${p.connection_id})` : ''}: ${p.tax_code}`);
  if (keys) {
    lines.push('', `  API keys (${keys.length}):`);
    for (const k of keys) lines.push(`    ${k.prefix}…  ${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}  last used ${k.last_used_at ?? 'never'}${k.name ? `  ${k.name}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

export function print(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text());
}
