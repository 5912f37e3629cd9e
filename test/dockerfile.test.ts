import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// No Docker engine here: the Dockerfile is parsed (continuations, comments, JSON-form arguments) and checked for
// what docs/deploy.md promises. A typo in an instruction, a stage name or a copied path fails here.
const ROOT = join(import.meta.dirname, '..');
const KNOWN = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

interface Instruction {
  line: number;
  op: string;
  args: string;
}

function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) {
      i += 1;
      if (/^\s*#/.test(lines[i]!)) continue; // comment lines inside a continuation are dropped, as Docker does
      l = `${l.slice(0, -1)} ${lines[i]!.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile:${start + 1}: not an instruction: ${l}`);
    out.push({ line: start + 1, op: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

const steps = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const stages = steps.filter((s) => s.op === 'FROM').map((s) => /^(\S+)\s+AS\s+(\S+)$/i.exec(s.args));
const lastFrom = steps.map((s) => s.op).lastIndexOf('FROM');
const runtime = steps.slice(lastFrom);

describe('Dockerfile', () => {
  it('parses: known instructions only, JSON-form arguments are valid JSON arrays of strings', () => {
    for (const s of steps) {
      expect(KNOWN.has(s.op), `line ${s.line}: ${s.op}`).toBe(true);
      if (['CMD', 'ENTRYPOINT', 'VOLUME'].includes(s.op) || (s.op === 'HEALTHCHECK' && s.args.includes('CMD ['))) {
        const json = s.op === 'HEALTHCHECK' ? s.args.slice(s.args.indexOf('CMD ') + 4) : s.args;
        const arr = JSON.parse(json) as unknown[];
        expect(Array.isArray(arr) && arr.every((a) => typeof a === 'string'), `line ${s.line}`).toBe(true);
      }
    }
  });

  it('is multi-stage, and copies only from stages it defines', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const names = stages.map((m) => m?.[2]);
    expect(names.every(Boolean)).toBe(true);
    for (const s of steps.filter((x) => x.op === 'COPY' && x.args.startsWith('--from='))) {
      expect(names, `line ${s.line}`).toContain(/^--from=(\S+)/.exec(s.args)![1]);
    }
  });

  it('runs the built package as a non-root user, with a data volume and a health check on /readyz', () => {
    const user = runtime.filter((s) => s.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    const volume = JSON.parse(runtime.find((s) => s.op === 'VOLUME')!.args) as string[];
    const dataDir = /TAXBRIDGE_DATA_DIR=(\S+)/.exec(runtime.filter((s) => s.op === 'ENV').map((s) => s.args).join(' '))?.[1];
    expect(volume).toContain(dataDir);
    expect(runtime.find((s) => s.op === 'HEALTHCHECK')?.args).toMatch(/\/readyz/);
    expect(JSON.parse(runtime.find((s) => s.op === 'ENTRYPOINT')!.args)).toEqual(['node', '--max-semi-space-size=64', 'bin/taxbridge.js']);
    // Nothing of the development toolchain in the image's dependencies.
    expect(runtime.find((s) => s.op === 'RUN' && s.args.includes('npm ci'))?.args).toContain('--omit=dev');
  });

  it('puts every path of package.json `files` that the server reads into the runtime stage', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    const copied = runtime.filter((s) => s.op === 'COPY').map((s) => s.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1)).flat();
    for (const f of pkg.files.filter((x) => x.endsWith('/') && x !== 'docs/')) expect(copied, f).toContain(`/app/${f.replace(/\/$/, '')}`);
  });

  it('is documented in docs/deploy.md, and .dockerignore keeps local builds and data out of the context', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    for (const word of ['docker build', 'docker run', '/data', 'TAXBRIDGE_MASTER_KEY', '/readyz']) expect(doc, word).toContain(word);
    expect(existsSync(join(ROOT, '.dockerignore'))).toBe(true);
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'dist', 'data']) expect(ignored).toContain(p);
  });
});
