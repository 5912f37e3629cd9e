import { TaxbridgeError } from '../../errors.ts';
import { COMMON_OPTIONS, COMMON_USAGE, print, table, withTaxAdmin } from '../tax-admin-client.ts';
import { parseCommandArgs } from '../args.ts';


export const usage = `Usage: taxbridge key create <organization id> [--name <label>] [--rate-limit <requests per second>]
       taxbridge key list [<organization id>]
       taxbridge key revoke <key id or prefix>

Keys start with tb_test_ or tb_live_ (the organization's mode). The key is printed once; only its SHA-256
hash is stored. A billing system sends it as X-API-KEY to /tax_api/calculate_tax and checks it with
GET /tax_api/test_credentials.

Options:
${COMMON_USAGE}
`;

const OPTIONS = { ...COMMON_OPTIONS, name: { type: 'string' }, 'rate-limit': { type: 'string' }, org: { type: 'string' } } as const;

export async function run(args: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, OPTIONS);
  const sub = positionals[0];
  switch (sub) {
    case 'create': {
      const orgId = positionals[1] ?? v.org;
      if (!orgId) throw new TaxbridgeError('CLI_USAGE', 'give the organization id: taxbridge key create <organization id>');
      let rate: number | undefined;
      if (v['rate-limit'] !== undefined) {
        rate = Number(v['rate-limit']);
        if (!Number.isFinite(rate) || rate <= 0) throw new TaxbridgeError('CLI_USAGE', '--rate-limit must be a positive number of requests per second');
      }
      const k = await withTaxAdmin(v, (a) => a.createApiKey(orgId, { ...(v.name ? { name: v.name } : {}), ...(rate ? { rate_limit_per_second: rate } : {}) }));
      print(v.json, k, () => `Created ${k.mode} API key ${k.id} for ${k.organization_id}. Store it now: it is shown only once.\n\n  ${k.key}\n\n`);
      return 0;
    }
    case 'list': {
      const orgId = positionals[1] ?? v.org;
      const keys = await withTaxAdmin(v, (a) => a.listApiKeys(orgId));
      print(v.json, keys, () =>
        keys.length
          ? table(
              ['ID', 'PREFIX', 'ORGANIZATION', 'MODE', 'STATUS', 'LAST USED', 'CREATED', 'NAME'],
              keys.map((k) => [k.id, `${k.prefix}…`, k.organization_id, k.mode, k.revoked_at ? 'revoked' : 'active', k.last_used_at ?? 'never', k.created_at, k.name ?? '']),
            )
          : 'No API keys. Create one with `taxbridge key create <organization id>`.\n',
      );
      return 0;
    }
    case 'revoke': {
      const ref = positionals[1];
      if (!ref || positionals.length > 2) throw new TaxbridgeError('CLI_USAGE', 'give one key id (key_…) or prefix (tb_test_…)');
      const k = await withTaxAdmin(v, (a) => a.revokeApiKey(ref));
      print(v.json, k, () => `Revoked ${k.prefix}… (${k.id}) at ${k.revoked_at}; requests with it now get 401 unauthorized_access.\n`);
      return 0;
    }
    default:
      throw new TaxbridgeError('CLI_USAGE', sub ? `unknown subcommand \`key ${sub}\`` : 'give a subcommand: create, list or revoke', { hint: 'see taxbridge key --help' });
  }
}
