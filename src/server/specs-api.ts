/**
 * The spec playground's endpoints on the admin API:
 *
 *   POST /admin/specs/validate        {"yaml": "<connector spec>"} -> the diagnostics `taxbridge validate` gives
 *   GET  /admin/connectors/{name}/spec the YAML text of a loaded connector spec (to start editing from)
 *
 * Validation is the CLI's own (src/spec checkSpecText: YAML syntax, local $refs only, the schema, lint); it
 * reads no file and calls nothing. The text is bounded (MAX_SPEC_BYTES) like every other body.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import type { ConnectorRegistry } from '../connections/registry.ts';
import { TaxbridgeError } from '../errors.ts';
import type { Logger } from '../log/index.ts';
import { checkSpecText } from '../spec/index.ts';
import type { AdminCredential } from './admin-bearer.ts';
import { sendError, sendJson } from './http-errors.ts';
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
      const body = await readJsonBody(ctx.req, MAX_SPEC_BYTES + 1024);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badInput('send {"yaml": "<connector spec text>"}', 'yaml');
      const yaml = Object.hasOwn(body, 'yaml') ? (body as { yaml: unknown }).yaml : undefined;
      if (typeof yaml !== 'string') throw badInput('yaml must be the spec text, as a string', 'yaml');
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
      const checked = checkSpecText('spec.yaml', yaml);
      const diagnostics = checked.diagnostics.slice(0, MAX_DIAGNOSTICS).map(({ file: _file, ...d }) => d);
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
