import { TaxbridgeError } from '../errors.ts';

/** A JSONata expression that does not compile (`EXPRESSION_SYNTAX`) or fails while running (`EXPRESSION_EVALUATION`). */
export class ExpressionError extends TaxbridgeError {
  /** Character offset of the problem inside the expression source, when JSONata reports one. */
  readonly position?: number;
  readonly source: string;

  constructor(code: 'EXPRESSION_SYNTAX' | 'EXPRESSION_EVALUATION', source: string, message: string, position?: number, cause?: unknown) {
    super(code, message, { cause, hint: code === 'EXPRESSION_SYNTAX' ? 'check the JSONata syntax: https://docs.jsonata.org' : undefined });
    this.source = source;
    this.position = position;
  }
}
