// The web console's build: Preact (about 4 KB gzip) compiled by Vite's own transformer (oxc), no plugins.
// Output goes to console/dist, served by `taxbridge serve` at /console (src/console/router.ts). Nothing is
// inlined (the Content-Security-Policy allows scripts and styles from the server only).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    reportCompressedSize: true,
    target: 'es2022',
  },
  logLevel: 'warn',
});
