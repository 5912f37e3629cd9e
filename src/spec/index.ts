export type * from './types.ts';
export { loadConnector, checkSpecFile, checkSpecText, findSpecFiles, findSpecTestFiles, SpecError, type CheckedSpec } from './load.ts';
export { formatText, formatGithub, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
export { entityValidator, connectorSchema, entityNames, getAjv, SCHEMAS_DIR } from './schemas.ts';
