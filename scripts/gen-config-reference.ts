/**
 * Writes README.md's configuration table (between the config-table marker comments) from
 * schemas/config.schema.json: one row per file key (title, x-flag, x-env, default), then the settings only
 * taken from the environment (x-environment-only). `--check` exits 1 when the README is out of date (`npm test` runs it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configSchema, type ConfigPropertySchema } from '../src/config/schema.ts';
import { packagePath } from '../src/package-root.ts';

export const README = packagePath('README.md');
export const START = '<!-- config-table:start: generated from schemas/config.schema.json by scripts/gen-config-reference.ts -->';
export const END = '<!-- config-table:end -->';

const code = (s: string | undefined): string => (s ? `\`${s}\`` : '');
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function defaultText(p: ConfigPropertySchema): string {
  if (p['x-default'] !== undefined) return p['x-default'];
  const d = p.default;
  if (d === undefined || (Array.isArray(d) && d.length === 0) || (typeof d === 'object' && d !== null && Object.keys(d).length === 0)) return 'none';
  return String(d);
}

function row(key: string, p: ConfigPropertySchema): string {
  return `| ${cell(p.title ?? key)} | ${code(p['x-flag'])} | ${p['x-env'] ? cell(code(p['x-env'])) : ''} | ${code(key)} | ${cell(defaultText(p))} |`;
}

export function generateTable(): string {
  const s = configSchema();
  const rows = ['| setting | flag | environment | file key | default |', '|---|---|---|---|---|'];
  for (const [key, p] of Object.entries(s.properties)) {
    if (p['x-meta']) continue;
    if (p.properties) for (const [sub, sp] of Object.entries(p.properties)) rows.push(row(`${key}.${sub}`, sp));
    else rows.push(row(p.additionalProperties && typeof p.additionalProperties === 'object' ? `${key}.<name>` : key, p));
  }
  for (const e of s['x-environment-only']) rows.push(`| ${cell(e.title)} | ${code(e.flag)} | ${cell(code(e.env))} | — | ${cell(e.default)} |`);
  return rows.join('\n');
}

/** README.md with the table between the markers replaced. */
export function generateReadme(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} ... ${END} markers`);
  return `${readme.slice(0, a + START.length)}\n${generateTable()}\n${readme.slice(b)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cur = readFileSync(README, 'utf8');
  const next = generateReadme(cur);
  if (process.argv.includes('--check')) {
    if (cur !== next) {
      process.stderr.write('README.md\'s configuration table is out of date with schemas/config.schema.json: run `node --import tsx scripts/gen-config-reference.ts`\n');
      process.exit(1);
    }
  } else writeFileSync(README, next);
}
