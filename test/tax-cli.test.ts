/** `taxbridge org | key | region` against a data folder (in-process, stdout captured). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { run as org } from '../src/cli/commands/org.ts';
import { run as key } from '../src/cli/commands/key.ts';
import { run as region } from '../src/cli/commands/region.ts';
import { openStore } from '../src/store/index.ts';
import { hashApiKey } from '../src/tax/keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'taxbridge-tax-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(cmd: (a: string[]) => Promise<number>, ...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => {
    out += String(chunk);
    return true;
  });
  try {
    const code = await cmd([...args, '--data', dir]);
    return { code, out };
  } finally {
    spy.mockRestore();
  }
}

describe('tax admin CLI', () => {
  it('creates an organization, regions and a key; lists and revokes', async () => {
    const created = await cli(org, 'create', '--name', 'Acme', '--mode', 'test', '--origin-country', 'US', '--origin-state', 'TX', '--default-tax-code', 'saas', '--json');
    expect(created.code).toBe(0);
    const o = JSON.parse(created.out);
    expect(o).toMatchObject({ name: 'Acme', mode: 'test', origin_address: { country: 'US', state: 'TX' }, default_product_tax_code: 'saas' });

    expect((await cli(region, 'add', o.id, '--country', 'US', '--state', 'Texas', '--effective-from', '2024-01-01')).out).toMatch(/Registered .* in US-TX/);
    expect((await cli(region, 'add', o.id, '--country', 'DE')).code).toBe(0);
    expect((await cli(region, 'disable', o.id, 'DE')).out).toMatch(/DE .*OFF/);
    const regs = JSON.parse((await cli(region, 'list', o.id, '--json')).out);
    expect(regs.map((r: any) => [r.country, r.state ?? null, r.tax_calculation])).toEqual([
      ['US', 'TX', true],
      ['DE', null, false],
    ]);
    expect((await cli(region, 'enable', o.id, regs[1].id)).out).toMatch(/ON/);
    await expect(cli(region, 'add', o.id, '--country', 'US')).rejects.toThrow(/needs a state/);

    const k = JSON.parse((await cli(key, 'create', o.id, '--name', 'sequence', '--json')).out);
    expect(k.key).toMatch(/^tb_test_[0-9A-Za-z]{40}$/);
    expect(k.hash).toBeUndefined();
    const human = await cli(key, 'create', o.id);
    expect(human.out).toMatch(/shown only once[\s\S]*tb_test_/);

    const listed = JSON.parse((await cli(key, 'list', o.id, '--json')).out);
    expect(listed).toHaveLength(2);
    expect(listed[0].prefix).toBe(k.key.slice(0, 16));
    expect((await cli(key, 'revoke', k.prefix)).out).toMatch(/Revoked/);

    expect((await cli(org, 'tax-code', o.id, '--product', 'widget', '--code', 'general')).code).toBe(0);
    const shown = await cli(org, 'show', o.id);
    expect(shown.out).toMatch(/US-TX +tax calculation ON/);
    expect(shown.out).toMatch(/widget: general/);
    expect(shown.out).toMatch(/revoked/);
    expect((await cli(org, 'list')).out).toMatch(/Acme +test/);

    // what is on disk: the key only as its hash
    const store = await openStore({ dir });
    try {
      const docs = await store.list<any>('api_keys');
      expect(docs.find((d) => d.id === k.id).hash).toBe(hashApiKey(k.key));
      expect(JSON.stringify(docs)).not.toContain(k.key);
    } finally {
      await store.close();
    }
  });

  it('reports usage errors', async () => {
    await expect(cli(org, 'create', '--name', 'x')).rejects.toThrow(/--mode/);
    await expect(cli(org, 'nope')).rejects.toThrow(/unknown subcommand/);
    await expect(cli(key, 'revoke', 'key_missing')).rejects.toThrow(/does not exist/);
    await expect(cli(region, 'list', 'org_missing')).rejects.toThrow(/does not exist/);
  });
});
