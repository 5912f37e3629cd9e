/**
 * Exact money for taxbridge: integer minor units (BigInt) per ISO 4217 exponent, exact rationals for rates,
 * half-up rounding (half away from zero), and exact allocation. No floating-point arithmetic on amounts.
 */
export { normalizeCurrency, isCurrency, currencyExponent, currencyCodes } from './currency.ts';
export { parseMinor, formatMinor, parseAmount, formatAmount, minorFromJson, minorToJson, type ParseRounding } from './amount.ts';
export {
  type Rational,
  rational,
  parseRational,
  percentToFraction,
  isDecimalString,
  reduce,
  add,
  mul,
  sum,
  isZero,
  compare,
  divRoundHalfUp,
  roundHalfUp,
  mulRound,
  toDecimalString,
  toExactDecimalString,
} from './rational.ts';
export { allocate } from './allocate.ts';
