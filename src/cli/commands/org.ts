import { TaxbridgeError } from '../../errors.ts';
import { COMMON_OPTIONS, COMMON_USAGE, formatAddress, formatOrganization, print, table, withTaxAdmin } from '../tax-admin-client.ts';
import { TAX_CODES } from '../../tax/tax-codes.ts';
import { parseCommandArgs } from '../args.ts';


export const usage = `Usage: taxbridge org create --name <name> --mode test|live [origin options] [--default-tax-code <code>]
       taxbridge org list
       taxbridge org show <organization id>
       taxbridge org set <organization id> [--name <name>] [origin options] [--default-tax-code <code>|none]
       taxbridge org tax-code <organization id> --product <product id> [--connection <id>] (--code <code> | --remove)

Origin options (the merchant's address; its country decides cross-border reverse charge):
  --origin-country <CC>  --origin-state <ST>  --origin-postal-code <zip>  --origin-city <city>  --origin-line1 <street>

Tax codes: ${TAX_CODES.join(', ')}

Options:
${COMMON_USAGE}
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  name: { type: 'string' },
  mode: { type: 'string' },
  'origin-country': { type: 'string' },
  'origin-state': { type: 'string' },
  'origin-postal-code': { type: 'string' },
  'origin-city': { type: 'string' },
  'origin-line1': { type: 'string' },
  'default-tax-code': { type: 'string' },
  product: { type: 'string' },
  connection: { type: 'string' },
  code: { type: 'string' },
  remove: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'];

function origin(v: Values): Record<string, string> | undefined {
  const a: Record<string, string> = {};
  if (v['origin-country']) a.country = v['origin-country'];
  if (v['origin-state']) a.state = v['origin-state'];
  if (v['origin-postal-code']) a.postal_code = v['origin-postal-code'];
  if (v['origin-city']) a.city = v['origin-city'];
  if (v['origin-line1']) a.line1 = v['origin-line1'];
  if (!Object.keys(a).length) return undefined;
  if (!a.country) throw new TaxbridgeError('CLI_USAGE', '--origin-country is required with the other --origin-* options');
  return a;
}

function one(positionals: string[], what: string): string {
  const id = positionals[1];
  if (!id || positionals.length > 2) throw new TaxbridgeError('CLI_USAGE', `give one ${what}`, { hint: 'see taxbridge org --help' });
  return id;
}

export async function run(args: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, OPTIONS);
  const sub = positionals[0];
  switch (sub) {
    case 'create': {
      if (!v.name) throw new TaxbridgeError('CLI_USAGE', '--name is required');
      if (v.mode !== 'test' && v.mode !== 'live') throw new TaxbridgeError('CLI_USAGE', '--mode test or --mode live is required', { hint: 'test organizations pair with sandbox connections and tb_test_ keys' });
      const org = await withTaxAdmin(v, (a) =>
        a.createOrganization({ name: v.name!, mode: v.mode as 'test' | 'live', origin_address: origin(v), default_product_tax_code: v['default-tax-code'] }),
      );
      print(v.json, org, () => `Created ${org.mode} organization ${org.name}: ${org.id}\nNext: taxbridge region add ${org.id} --country <CC> [--state <ST>], then taxbridge key create ${org.id}\n`);
      return 0;
    }
    case 'list': {
      const list = await withTaxAdmin(v, (a) => a.listOrganizations());
      print(v.json, list, () =>
        list.length
          ? table(
              ['ID', 'NAME', 'MODE', 'ORIGIN', 'REGISTRATIONS', 'DEFAULT CODE'],
              list.map((o) => [o.id, o.name, o.mode, formatAddress(o.origin_address), String(o.registrations.filter((r) => r.tax_calculation).length) + '/' + o.registrations.length, o.default_product_tax_code ?? '-']),
            )
          : 'No organizations. Create one with `taxbridge org create --name <name> --mode test`.\n',
      );
      return 0;
    }
    case 'show': {
      const id = one(positionals, 'organization id');
      const { org, keys } = await withTaxAdmin(v, async (a) => ({ org: await a.getOrganization(id), keys: await a.listApiKeys(id) }));
      print(v.json, { ...org, api_keys: keys }, () => formatOrganization(org, keys));
      return 0;
    }
    case 'set': {
      const id = one(positionals, 'organization id');
      const code = v['default-tax-code'];
      const patch = {
        ...(v.name !== undefined ? { name: v.name } : {}),
        ...(origin(v) ? { origin_address: origin(v) } : {}),
        ...(code !== undefined ? { default_product_tax_code: code === 'none' ? null : code } : {}),
      };
      if (!Object.keys(patch).length) throw new TaxbridgeError('CLI_USAGE', 'nothing to change: give --name, --origin-* or --default-tax-code');
      const org = await withTaxAdmin(v, (a) => a.updateOrganization(id, patch));
      print(v.json, org, () => formatOrganization(org));
      return 0;
    }
    case 'tax-code': {
      const id = one(positionals, 'organization id');
      if (!v.product) throw new TaxbridgeError('CLI_USAGE', '--product is required');
      if (!!v.code === !!v.remove) throw new TaxbridgeError('CLI_USAGE', 'give --code <code> or --remove');
      const org = await withTaxAdmin(v, async (a) => {
        if (v.remove) await a.removeProductTaxCode(id, v.product!, v.connection);
        else await a.setProductTaxCode(id, { product_id: v.product!, connection_id: v.connection, tax_code: v.code! });
        return a.getOrganization(id);
      });
      print(v.json, org.product_tax_codes, () => formatOrganization(org));
      return 0;
    }
    default:
      throw new TaxbridgeError('CLI_USAGE', sub ? `unknown subcommand \`org ${sub}\`` : 'give a subcommand: create, list, show, set or tax-code', { hint: 'see taxbridge org --help' });
  }
}
