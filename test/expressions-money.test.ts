/**
 * `$fromMinor(amount, currency)` and `$toMinor(decimal, currency[, rounding])` in every expression: exact
 * (BigInt, never a float) for zero-, two- and three-decimal currencies, negative and huge amounts, with a
 * connector's exponent overrides, and a clear error naming the function for bad input.
 */
import { describe, expect, it } from 'vitest';
import { compileExpression } from '../src/expressions/index.ts';
import { defineLibrary, tagSource } from '../src/expressions/functions.ts';

const run = (source: string, input: unknown = {}) => compileExpression(source).evaluate(input);
const failure = async (source: string) => {
  const e = (await run(source).then(
    () => undefined,
    (err: unknown) => err,
  )) as { code?: string; message?: string } | undefined;
  expect(e, `${source} should fail`).toBeDefined();
  return e!;
};

describe('$fromMinor', () => {
  it.each([
    ['$fromMinor(1999, "usd")', '19.99'],
    ['$fromMinor(5, "USD")', '0.05'],
    ['$fromMinor(-5, "usd")', '-0.05'],
    ['$fromMinor(0, "eur")', '0.00'],
    ['$fromMinor(500, "jpy")', '500'],
    ['$fromMinor(-500, "JPY")', '-500'],
    ['$fromMinor(1234, "kwd")', '1.234'],
    ['$fromMinor(7, "bhd")', '0.007'],
    ['$fromMinor(12345, "clf")', '1.2345'],
    ['$fromMinor(9007199254740991, "usd")', '90071992547409.91'],
    ['$fromMinor("123456789012345678901234567890", "usd")', '1234567890123456789012345678.90'],
    ['$fromMinor("-123456789012345678901234567890", "kwd")', '-123456789012345678901234567.890'],
    ['$fromMinor(100, "isk")', '100'],
  ])('%s = %s', async (source, expected) => {
    expect(await run(source)).toBe(expected);
  });

  it('gives nothing for a missing amount, so mappings of absent fields stay absent', async () => {
    expect(await run('$fromMinor(missing, "usd")', {})).toBeUndefined();
    expect(await run('{ "a": $fromMinor(missing, "usd") }', {})).toEqual({});
  });

  it.each([
    ['$fromMinor(19.99, "usd")', /\$fromMinor: amount must be a whole number of minor units, got 19\.99/],
    ['$fromMinor(9007199254740993, "usd")', /beyond 2\^53.*pass it as a string of digits/],
    ['$fromMinor("12.5", "usd")', /a number or a string of digits\), got "12\.5"/],
    ['$fromMinor("1e5", "usd")', /got "1e5"/],
    ['$fromMinor(100, "xyz")', /unknown currency "xyz"; declare its exponent under definitions\.currency_exponents/],
    ['$fromMinor(100, "us")', /currency must be a three-letter code/],
    ['$fromMinor(100)', /currency must be a three-letter code such as "usd", got nothing/],
    ['$fromMinor([1, 2], "usd")', /got a list of 2/],
  ])('refuses %s with a clear error', async (source, message) => {
    const e = await failure(source);
    expect(e.code).toBe('EXPRESSION_EVALUATION');
    expect(e.message).toMatch(message);
  });
});

describe('$toMinor', () => {
  it.each([
    ['$toMinor("19.99", "usd")', 1999],
    ['$toMinor("19.9", "usd")', 1990],
    ['$toMinor("19", "usd")', 1900],
    ['$toMinor("-0.05", "usd")', -5],
    ['$toMinor("19.990", "usd")', 1999],
    ['$toMinor("500", "jpy")', 500],
    ['$toMinor("1.234", "kwd")', 1234],
    ['$toMinor(150.5, "usd")', 15050],
    ['$toMinor(0.1, "usd") + $toMinor(0.2, "usd")', 30],
    ['$toMinor("90071992547409.91", "usd")', 9007199254740991],
    ['$toMinor("90071992547409.92", "usd")', '9007199254740992'],
    ['$toMinor("1234567890123456789012345678.90", "usd")', '123456789012345678901234567890'],
    ['$toMinor("1.005", "usd", "half_up")', 101],
    ['$toMinor("-1.005", "usd", "half_up")', -101],
    ['$toMinor("1.2345", "kwd", "half_up")', 1235],
  ])('%s = %s', async (source, expected) => {
    expect(await run(source)).toBe(expected);
  });

  it.each([
    ['$toMinor("1.234", "usd")', /"1\.234" has more than 2 decimal places for USD \(pass "half_up" as the third argument to round\)/],
    ['$toMinor("1.5", "jpy")', /more than 0 decimal places for JPY/],
    ['$toMinor("12,50", "eur")', /"12,50" is not a decimal amount such as "19\.99"/],
    ['$toMinor(" 1.00", "usd")', /is not a decimal amount/],
    ['$toMinor("1e3", "usd")', /is not a decimal amount/],
    ['$toMinor(1e21, "usd")', /cannot be read exactly as a decimal amount; pass it as a string/],
    ['$toMinor({"a": 1}, "usd")', /must be a decimal string such as "19\.99" \(or a number\), got an object/],
    ['$toMinor("1.00", "usd", "down")', /rounding must be "exact" or "half_up", got "down"/],
  ])('refuses %s with a clear error', async (source, message) => {
    const e = await failure(source);
    expect(e.code).toBe('EXPRESSION_EVALUATION');
    expect(e.message).toMatch(message);
  });

  it('round-trips every amount it reads', async () => {
    for (const [amount, currency] of [['0.01', 'usd'], ['-12345678901234.56', 'eur'], ['7', 'jpy'], ['0.001', 'kwd']]) {
      expect(await run(`$fromMinor($toMinor("${amount}", "${currency}"), "${currency}")`)).toBe(amount);
    }
  });
});

describe('per-connector exponent overrides', () => {
  // Stripe counts ISK in hundredths (ISO 4217: 0) and MGA in whole ariary (ISO: 2).
  const lib = defineLibrary({ currency_exponents: { isk: 2, MGA: 0 } })!;
  const scoped = (source: string) => compileExpression(tagSource(source, lib)).evaluate({});

  it('apply to the spec that declares them, and only there', async () => {
    expect(await scoped('$fromMinor(12300, "ISK")')).toBe('123.00');
    expect(await scoped('$toMinor("123", "isk")')).toBe(12300);
    expect(await scoped('$fromMinor(1500, "mga")')).toBe('1500');
    expect(await scoped('$fromMinor(1999, "usd")')).toBe('19.99');
    expect(await run('$fromMinor(12300, "ISK")')).toBe('12300');
    expect(await run('$fromMinor(1500, "mga")')).toBe('15.00');
  });

  it('make a currency ISO does not know usable', async () => {
    const extra = defineLibrary({ currency_exponents: { XBT: 4 } })!;
    expect(await compileExpression(tagSource('$fromMinor(12345, "xbt")', extra)).evaluate({})).toBe('1.2345');
  });
});

describe('minor-unit amounts in the write-back context', () => {
  const tax = (currency: string, amount: string, taxAmount: string) => ({
    calculation_id: 'calc',
    currency,
    total_tax: taxAmount,
    lines: [{ id: 'l1', amount, taxable_amount: amount, tax_amount: taxAmount, rate: '10', rate_fraction: '0.1', jurisdictions: [{ name: 'x', display_name: 'X', level: 'country', tax_type: 'vat', country: 'IS', rate: '10', rate_fraction: '0.1', effective_rate: '10', tax_amount: taxAmount, taxable_amount: amount }] }],
  });

  it('sit next to the decimal strings, in the system exponent', async () => {
    const { withMinorAmounts } = await import('../src/writeback/plan.ts');
    const usd = withMinorAmounts(tax('USD', '-1200.50', '-120.05'));
    expect([usd.total_tax_minor, usd.lines[0]!.amount_minor, usd.lines[0]!.tax_amount_minor, usd.lines[0]!.jurisdictions[0]!.taxable_amount_minor]).toEqual([-12005, -120050, -12005, -120050]);
    expect(withMinorAmounts(tax('JPY', '1000', '100')).lines[0]!.tax_amount_minor).toBe(100);
    expect(withMinorAmounts(tax('KWD', '1.234', '0.123')).lines[0]!.amount_minor).toBe(1234);
    // Stripe-style overrides: ISK in hundredths; MGA in whole units (an ISO amount with cents rounds half up).
    expect(withMinorAmounts(tax('ISK', '1000', '240'), { isk: 2 }).lines[0]).toMatchObject({ amount_minor: 100000, tax_amount_minor: 24000 });
    expect(withMinorAmounts(tax('MGA', '123.50', '12.35'), { MGA: 0 }).lines[0]).toMatchObject({ amount_minor: 124, tax_amount_minor: 12 });
    expect(withMinorAmounts(tax('USD', '123456789012345678.00', '1.00')).lines[0]!.amount_minor).toBe('12345678901234567800');
  });
});
