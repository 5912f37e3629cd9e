/**
 * The spec playground's endpoints on the admin API:
 *
 *   POST /admin/specs/validate        {"yaml": "<connector spec>"} -> the diagnostics `taxbridge validate` gives
 *   GET  /admin/connectors/{name}/spec the YAML text of a loaded connector spec (to start editing from)
 *   POST /admin/specs/try-mapping     {"yaml", "stream", "record"} -> the canonical record the stream's mapping makes
 *
 * Validation is the CLI's own (src/spec checkSpecText: YAML syntax, local $refs only, the schema, lint); it
 * reads no file and calls nothing. The text is bounded (MAX_SPEC_BYTES) like every other body. A tried mapping
 * runs the sync's own compile and map code, compiled uncached and inside an evaluation box (time, nesting, value
 * size: src/expressions/guard.ts), so a pasted `$f()` loop or a ten-million-item range cannot hold the server.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import type { ConnectorRegistry } from '../connections/registry.ts';
import { TaxbridgeError } from '../errors.ts';
import type { Logger } from '../log/index.ts';
import { compileGuardedExpression, ExpressionError, withinLimits, type EvaluationLimits } from '../expressions/index.ts';
import { checkSpecText, type Diagnostic } from '../spec/index.ts';
import { compileStream } from '../sync/compile.ts';
import { mapCompiled, mappingBindings } from '../sync/map.ts';
import type { AdminCredential } from './admin-bearer.ts';
import { sendError, sendJson } from './http-errors.ts';
import { adminBody } from './admin-body.ts';
import type { SpecsTryMappingRequest, SpecsValidateRequest } from './admin-api-types.generated.ts';
import { readJsonBody } from './raw-body.ts';
import { createAdminRouter } from './routing.ts';

export const MAX_SPEC_BYTES = 256 * 1024;
/** Diagnostics answered at most (a pasted binary could produce thousands). */
const MAX_DIAGNOSTICS = 200;

export interface SpecsApiOptions {
  registry: ConnectorRegistry;
  adminToken: AdminCredential;
  log?: Logger;
}

/** A pasted record: nesting and number of values at most. */
const MAX_RECORD_DEPTH = 32;
const MAX_RECORD_VALUES = 10_000;
export const TRY_LIMITS: EvaluationLimits = { timeMs: 1000, depth: 2000, size: 100_000 };

/** Iterative (a deep record must not overflow the stack that checks it). */
function recordProblem(record: unknown): string | undefined {
  const stack: Array<[unknown, number]> = [[record, 1]];
  let values = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (++values > MAX_RECORD_VALUES) return `the record has more than ${MAX_RECORD_VALUES} values`;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_RECORD_DEPTH) return `the record nests deeper than ${MAX_RECORD_DEPTH} levels`;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return undefined;
}

function field(body: object, name: string): unknown {
  return Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined;
}

/** 422 MAPPING_FAILED: `param` mapping (with the JSONata position inside the expression) when an expression failed. */
function mappingFailed(message: string, cause?: unknown, externalId?: string): TaxbridgeError {
  const expr = cause instanceof ExpressionError ? cause : undefined;
  return new TaxbridgeError('MAPPING_FAILED', message, {
    details: {
      field: expr ? 'mapping' : 'record',
      ...(expr?.position !== undefined ? { position: expr.position } : {}),
      ...(externalId ? { external_id: externalId } : {}),
    },
  });
}

function badInput(message: string, field: string): TaxbridgeError {
  return new TaxbridgeError('invalid_input', message, { details: { field } });
}

export function createSpecsApiRouter(opts: SpecsApiOptions): Router {
  const router = createAdminRouter(opts.adminToken);
  const handle = (fn: (ctx: Context) => Promise<void> | void) => async (ctx: Context) => {
    try {
      await fn(ctx);
    } catch (e) {
      sendError(ctx, e, opts.log);
    }
  };

  router.post(
    '/specs/validate',
    handle(async (ctx) => {
      const body = adminBody<SpecsValidateRequest>('specs', 'validate_request', await readJsonBody(ctx.req, MAX_SPEC_BYTES + 1024));
      const checked = checkYaml(body.yaml);
      const diagnostics = publicDiagnostics(checked.diagnostics);
      const errors = checked.diagnostics.filter((d) => d.severity === 'error').length;
      sendJson(ctx, 200, {
        data: {
          valid: errors === 0,
          errors,
          warnings: checked.diagnostics.length - errors,
          diagnostics,
          ...(checked.diagnostics.length > MAX_DIAGNOSTICS ? { truncated: true } : {}),
          ...(checked.spec ? { connector: { name: checked.spec.name, title: checked.spec.title, streams: Object.keys(checked.spec.streams) } } : {}),
        },
      });
    }),
  );

  router.post(
    '/specs/try-mapping',
    handle(async (ctx) => {
      const { yaml, stream, record } = adminBody<SpecsTryMappingRequest>('specs', 'try_mapping_request', await readJsonBody(ctx.req, MAX_SPEC_BYTES + 64 * 1024));
      const tooBig = recordProblem(record);
      if (tooBig) throw badInput(tooBig, 'record');
      const checked = checkYaml(yaml);
      if (!checked.spec) {
        throw new TaxbridgeError('SPEC_INVALID', 'the spec has errors; fix them before trying a mapping', { details: { field: 'yaml', diagnostics: publicDiagnostics(checked.diagnostics.filter((d) => d.severity === 'error')) } });
      }
      const spec = checked.spec;
      if (!Object.hasOwn(spec.streams, stream)) {
        throw new TaxbridgeError('SYNC_UNKNOWN_STREAM', `the spec has no stream ${JSON.stringify(stream.slice(0, 100))}`, { hint: `streams: ${Object.keys(spec.streams).join(', ')}`, details: { field: 'stream' } });
      }
      const environment = (Object.keys(spec.environments ?? {})[0] ?? 'production') as never;
      const bindings = mappingBindings({ connection_id: 'playground', environment, credentials: {}, settings: {} });
      let compiled;
      try {
        compiled = compileStream(spec, stream, compileGuardedExpression);
      } catch (e) {
        if (e instanceof ExpressionError) throw mappingFailed(e.message, e);
        throw e;
      }
      const mapped = await withinLimits(TRY_LIMITS, () => mapCompiled(compiled, record, bindings));
      if (mapped.ok) {
        const data = { external_id: mapped.external_id, deleted: mapped.deleted, record: mapped.data };
        if (Buffer.byteLength(JSON.stringify(data), 'utf8') > MAX_SPEC_BYTES) throw mappingFailed(`the mapped record is larger than ${MAX_SPEC_BYTES / 1024} KiB`);
        sendJson(ctx, 200, { data });
        return;
      }
      throw mappingFailed(mapped.reason, mapped.cause, mapped.external_id);
    }),
  );

  router.get(
    '/connectors/:connector/spec',
    handle((ctx) => {
      const loaded = opts.registry.find(String(ctx.params.connector));
      if (!loaded) throw new TaxbridgeError('not_found', `no connector spec named ${String(ctx.params.connector).slice(0, 100)} is loaded`, { hint: `loaded: ${opts.registry.names().join(', ') || 'none'}` });
      ctx.status = 200;
      ctx.type = 'application/yaml; charset=utf-8';
      ctx.body = readFileSync(loaded.path, 'utf8');
    }),
  );

  return router;
}

/** The spec text checked as `taxbridge validate` does, after the bounds every playground body obeys. */
function checkYaml(yaml: string) {
  if (Buffer.byteLength(yaml, 'utf8') > MAX_SPEC_BYTES) throw badInput(`the spec is larger than ${MAX_SPEC_BYTES / 1024} KiB`, 'yaml');
  // Aliases of aliases expand exponentially ("billion laughs"): refuse them before anything walks the tree.
  const doc = parseDocument(yaml, { merge: true });
  if (doc.errors.length === 0) {
    try {
      doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      if (e instanceof ReferenceError) throw badInput('the YAML expands aliases too often (more than 1000 uses of an anchor); write the values out', 'yaml');
      throw e;
    }
  }
  return checkSpecText('spec.yaml', yaml);
}

function publicDiagnostics(diagnostics: Diagnostic[]) {
  return diagnostics.slice(0, MAX_DIAGNOSTICS).map(({ file: _file, ...d }) => d);
}
