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
    expect(text).toMatch(/2 webhook events stored, 2 processed; 2 write-back jobs \(2 applied, 0 dead\)/);
  }, 60_000);
});
