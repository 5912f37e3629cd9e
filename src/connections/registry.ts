/**
 * The connector specs a process knows: every spec file under the connectors folder, loaded and validated
 * once, by connector name. A spec that fails validation is kept out and reported (the others still load).
 */
import { existsSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { TaxbridgeError, errorMessage, errorRecord } from '../errors.ts';
import { findSpecFiles, loadConnector } from '../spec/index.ts';
import type { ConnectorSpec } from '../spec/types.ts';
import { closest } from '../spec/suggest.ts';

export interface LoadedConnector {
  name: string;
  spec: ConnectorSpec;
  /** Absolute path of the spec file. */
  path: string;
  /** Path relative to the connectors folder. */
  relativePath: string;
}

export interface SpecLoadFailure {
  path: string;
  code: string;
  message: string;
}

export class ConnectorRegistry {
  private readonly byName = new Map<string, LoadedConnector>();
  readonly failures: SpecLoadFailure[] = [];

  private constructor(readonly dir: string) {}

  /** Loads every spec under `dir`. Throws only when the folder itself is missing. */
  static load(dir: string): ConnectorRegistry {
    const abs = resolve(dir);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) {
      throw new TaxbridgeError('CONNECTORS_DIR_MISSING', `the connectors folder ${abs} does not exist`, {
        hint: 'set TAXBRIDGE_CONNECTORS_DIR (or connectors_dir in taxbridge.config.json) to the folder holding the connector YAML files',
      });
    }
    const reg = new ConnectorRegistry(abs);
    for (const path of findSpecFiles([abs])) {
      try {
        const spec = loadConnector(path);
        const prior = reg.byName.get(spec.name);
        if (prior) {
          reg.failures.push({ path, code: 'CONNECTOR_DUPLICATE', message: `connector name "${spec.name}" is already used by ${prior.relativePath}` });
          continue;
        }
        reg.byName.set(spec.name, { name: spec.name, spec, path, relativePath: relative(abs, path) });
      } catch (e) {
        reg.failures.push({ path, ...errorRecord(e, 'SPEC_INVALID') });
      }
    }
    return reg;
  }

  /** A registry over specs already in memory (tests). */
  static of(dir: string, connectors: Array<{ spec: ConnectorSpec; path: string }>): ConnectorRegistry {
    const reg = new ConnectorRegistry(resolve(dir));
    for (const c of connectors) reg.byName.set(c.spec.name, { name: c.spec.name, spec: c.spec, path: resolve(c.path), relativePath: relative(reg.dir, resolve(c.path)) });
    return reg;
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  list(): LoadedConnector[] {
    return this.names().map((n) => this.byName.get(n)!);
  }

  find(name: string): LoadedConnector | undefined {
    return this.byName.get(name);
  }

  get(name: string): LoadedConnector {
    const hit = this.byName.get(name);
    if (hit) return hit;
    const failed = this.failures.find((f) => f.path.endsWith(`/${name}.yaml`) || f.path.endsWith(`/${name}.yml`));
    if (failed) {
      throw new TaxbridgeError('CONNECTOR_INVALID', `the connector spec ${failed.path} does not load: ${failed.message.split('\n')[0]}`, {
        hint: `run \`taxbridge validate ${failed.path}\``,
      });
    }
    const close = closest(name, this.names());
    throw new TaxbridgeError('CONNECTOR_UNKNOWN', `no connector named "${name}" in ${this.dir}${close ? `; did you mean "${close}"?` : ''}`, {
      hint: this.names().length ? `known connectors: ${this.names().join(', ')}` : 'the connectors folder has no valid spec',
    });
  }
}
