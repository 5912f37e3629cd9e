export type * from './types.ts';
export { loadConnector, checkSpecFile, checkSpecText, findSpecFiles, findSpecTestFiles, SpecError, type CheckedSpec } from './load.ts';
export { formatText, formatGithub, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
export { entityValidator, connectorSchema, entityNames, getAjv, specTestValidator, SCHEMAS_DIR } from './schemas.ts';
export { parseSource, positionOf, dottedPath, type SourceDocument } from './yaml-source.ts';
export { validateAgainstSchema } from './validate.ts';
