import { TaxbridgeError } from '../../errors.ts';
import { COMMON_OPTIONS, COMMON_USAGE, print, regionName, table, withTaxAdmin } from '../tax-admin-client.ts';
import { parseCommandArgs } from '../args.ts';


export const usage = `Usage: taxbridge region add <organization id> --country <CC> [--state <ST>] [--effective-from YYYY-MM-DD] [--disabled]
       taxbridge region list <organization id>
       taxbridge region enable <organization id> <region>
       taxbridge region disable <organization id> <region>
       taxbridge region remove <organization id> <region>

<region> is the registration id (reg_…) or its place: US-TX, DE, CA-QC, EU.
US registrations are per state (--state required). Canada: CA covers GST/HST; CA with --state QC/BC/SK/MB
adds that province's QST/PST. EU (One-Stop Shop) charges each EU customer's VAT. Tax is calculated only
where a registration is enabled and in effect (default: from today); elsewhere lines answer not_collecting.

Options:
${COMMON_USAGE}
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  org: { type: 'string' },
  country: { type: 'string' },
  state: { type: 'string' },
  'effective-from': { type: 'string' },
  disabled: { type: 'boolean' },
} as const;

export async function run(args: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, OPTIONS);
  const [sub, orgArg, ref] = positionals;
  const orgId = orgArg ?? v.org;
  if (sub && !orgId) throw new TaxbridgeError('CLI_USAGE', `give the organization id: taxbridge region ${sub} <organization id> ...`);
  switch (sub) {
    case 'add': {
      if (!v.country) throw new TaxbridgeError('CLI_USAGE', '--country is required (e.g. --country US --state TX, or --country DE)');
      const r = await withTaxAdmin(v, (a) =>
        a.addRegistration(orgId!, {
          country: v.country!,
          ...(v.state ? { state: v.state } : {}),
          ...(v['effective-from'] ? { effective_from: v['effective-from'] } : {}),
          tax_calculation: !v.disabled,
        }),
      );
      print(v.json, r, () => `Registered ${orgId} in ${regionName(r)} (${r.id}): tax calculation ${r.tax_calculation ? 'ON' : 'OFF'} from ${r.effective_from}\n`);
      return 0;
    }
    case 'list': {
      const org = await withTaxAdmin(v, (a) => a.getOrganization(orgId!));
      print(v.json, org.registrations, () =>
        org.registrations.length
          ? table(
              ['ID', 'REGION', 'TAX CALCULATION', 'EFFECTIVE FROM', 'UPDATED'],
              org.registrations.map((r) => [r.id, regionName(r), r.tax_calculation ? 'on' : 'off', r.effective_from, r.updated_at]),
            )
          : `${org.id} has no registrations: no tax is calculated anywhere. Add one with \`taxbridge region add ${org.id} --country <CC>\`.\n`,
      );
      return 0;
    }
    case 'enable':
    case 'disable': {
      if (!ref) throw new TaxbridgeError('CLI_USAGE', `give the region: taxbridge region ${sub} <organization id> <US-TX | DE | reg_…>`);
      const r = await withTaxAdmin(v, (a) => a.updateRegistration(orgId!, ref, { tax_calculation: sub === 'enable' }));
      print(v.json, r, () => `${regionName(r)} (${r.id}): tax calculation ${r.tax_calculation ? 'ON' : 'OFF'}\n`);
      return 0;
    }
    case 'remove': {
      if (!ref) throw new TaxbridgeError('CLI_USAGE', 'give the region: taxbridge region remove <organization id> <US-TX | DE | reg_…>');
      await withTaxAdmin(v, (a) => a.removeRegistration(orgId!, ref));
      print(v.json, { removed: ref }, () => `Removed registration ${ref} from ${orgId}\n`);
      return 0;
    }
    default:
      throw new TaxbridgeError('CLI_USAGE', sub ? `unknown subcommand \`region ${sub}\`` : 'give a subcommand: add, list, enable, disable or remove', { hint: 'see taxbridge region --help' });
  }
}
