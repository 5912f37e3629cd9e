import { existsSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/demo/run.ts';

describe('taxbridge demo', () => {
  it('walks the whole loop and reports tax written back to both systems and a live calculation', async () => {
    const lines: string[] = [];
    await runDemo({ out: (l) => lines.push(l) });
    const text = lines.join('\n');
    expect(text).toMatch(/Sequence: succeeded — customers 12, products 4, invoices 30, credit_notes 3/);
    expect(text).toMatch(/Rillet: succeeded — subsidiaries 3, customers 12/);
    expect(text).toMatch(/invoice INV\d+ for .* taxed in \d+ ms/);
    expect(text).toMatch(/taxRate 0\.066/);
    expect(text).toMatch(/Berlin consumer, 100\.00 EUR: .*19% = 1900/);
    expect(text).toMatch(/Paris business with a VAT id: no tax \(reverse_charge\)/);
    // QuickBooks: consent through the fake Intuit, backfill, and an invoice taxed through the app-level webhook.
    expect(text).toMatch(/consent given for company \d+ \(realmId on the redirect\) -> active/);
    expect(text).toMatch(/QuickBooks: succeeded — customers 8, products 4, invoices 12, credit_memos 2/);
    expect(text).toMatch(/invoice \d+ for Lone Star Dental PLLC \(Austin, TX\) taxed in \d+ ms \(SyncToken 0 -> 1\)/);
    expect(text).toMatch(/TotalTax 66\.00 spread by QuickBooks over/);
    // Stripe: endpoint registered by API, backfill, a draft taxed through invoice.created as form-encoded tax_amounts.
    expect(text).toMatch(/webhook endpoint we_\w+ registered by API/);
    expect(text).toMatch(/Stripe: succeeded — customers 10, products 4, invoices 20, credit_notes 2/);
    expect(text).toMatch(/draft in_\w+ for .* \(Austin, TX\) taxed in \d+ ms, still a draft/);
    expect(text).toMatch(/sent as application\/x-www-form-urlencoded: lines%5B0%5D%5Bid%5D=il_/);
    // Chargebee: site + API key, Basic-auth webhook registered by API, backfill, an invoice imported by webhook (no write-back).
    expect(text).toMatch(/Chargebee: succeeded — customers 12, items 4, item_prices \d+, invoices 30, credit_notes 3/);
    expect(text).toMatch(/invoice \d+ \(\w+\) arrived by the Basic-auth webhook: sub_total \d+ -> \d+\.\d\d/);
    expect(text).toMatch(/(\d+) webhook events stored, \1 processed; \d+ write-back jobs \(\d+ applied, 0 dead\)/);
    // Texas rates shown on documents are of the full price; the demo says why they differ from 6.25%.
    expect(text).toMatch(/TX State Sales Tax 5%[\s\S]*Texas taxes SaaS on 80% of it, so its 6\.25% state and 1% local rates show as 5% and 0\.8%/);
    expect(text).toMatch(/TX State Sales Tax 6\.25% on \d+[\s\S]*taxable_amount is 80% of the line/);
    // The server log it names is still there after the demo removed its temporary data folder.
    const log = /server log: (\S+), kept after the demo ends/.exec(text)?.[1];
    expect(log && existsSync(log), text.slice(0, 800)).toBe(true);
    rmSync(log!, { force: true });
  }, 60_000);
});
