export { compileExpression, compileGuardedExpression, type Expression } from './compile.ts';
export { withinLimits, type EvaluationLimits } from './guard.ts';
export { compileTemplate, renderTemplate, splitTemplate, templateExpressions, templateText, isConstant, type Template, type TemplateSegment } from './template.ts';
export { ExpressionError } from './errors.ts';
