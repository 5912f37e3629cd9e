/**
 * `npm run bench:cli`: start-up time of the built CLI (bin/taxbridge.js -> dist/), the figure a user waits for.
 * Wall time of whole processes, runs interleaved so load changes hit every case alike:
 *   baseline   node -e ""                                   (Node's own start, same machine, same run)
 *   help       node bin/taxbridge.js --help
 *   validate   node bin/taxbridge.js validate connectors/sequence.yaml
 *   source     node --import tsx src/cli/bin.ts --help     (the development path, fewer runs, for comparison)
 * Prints medians and p90s; the last line is one JSON object. Budget: help and validate under 200 ms (median).
 * The machine may be shared: each case is also run with a preload that reports the process's own CPU time
 * (process.cpuUsage at exit, all threads), which other load inflates far less than wall time, and the load
 * average is printed before and after. BENCH_CLI_RUNS sets the number of rounds (default 15).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { percentile } from './lib/load.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'taxbridge.js');
const RUNS = Math.max(3, Number(process.env.BENCH_CLI_RUNS ?? 15));
const BUDGET_MS = 200;

const cases: Record<string, string[]> = {
  baseline: ['-e', ''],
  help: [BIN, '--help'],
  validate: [BIN, 'validate', join(ROOT, 'connectors', 'sequence.yaml')],
  source: ['--import', 'tsx', join(ROOT, 'src', 'cli', 'bin.ts'), '--help'],
};

function timeOnce(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${String(r.stderr)}`);
  return ms;
}

// Writes the process's user+system CPU time (ms) as the last line of stderr when it exits.
const CPU_REPORT = `data:text/javascript,${encodeURIComponent("process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write('\\ncpu-ms ' + (u.user + u.system) / 1000 + '\\n'); });")}`;

function cpuOnce(args: string[]): number {
  const r = spawnSync(process.execPath, ['--import', CPU_REPORT, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const m = /cpu-ms ([\d.]+)\s*$/.exec(String(r.stderr));
  if (r.status !== 0 || !m) throw new Error(`node ${args.join(' ')} (CPU run) exited ${r.status}: ${String(r.stderr)}`);
  return Number(m[1]);
}

if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'bin.js'))) throw new Error('no dist/: run `npm run build` (npm run bench:cli does)');
const times: Record<string, number[]> = { baseline: [], help: [], validate: [], source: [] };
const cpu: Record<string, number[]> = { baseline: [], help: [], validate: [] };
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const loadBefore = load();
for (const name of Object.keys(cases)) timeOnce(cases[name]!); // warm the file cache
for (let i = 0; i < RUNS; i++) {
  for (const name of ['baseline', 'help', 'validate']) {
    times[name]!.push(timeOnce(cases[name]!));
    cpu[name]!.push(cpuOnce(cases[name]!));
  }
  if (i % 5 === 0) times.source!.push(timeOnce(cases.source!));
}
const loadAfter = load();

const round = (n: number) => Math.round(n * 10) / 10;
const stat = (name: string, from = times) => {
  const sorted = [...from[name]!].sort((a, b) => a - b);
  return { median: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), runs: sorted.length };
};
const s = Object.fromEntries(Object.keys(cases).map((n) => [n, stat(n)])) as Record<string, ReturnType<typeof stat>>;
for (const [name, args] of Object.entries(cases)) {
  const x = s[name]!;
  const ratio = name === 'baseline' ? '' : `, ${round(x.median / s.baseline!.median)}x baseline, +${round(x.median - s.baseline!.median)} ms over node's start`;
  process.stdout.write(`${name.padEnd(9)} median ${String(x.median).padStart(7)} ms, p90 ${String(x.p90).padStart(7)} ms (${x.runs} runs${ratio})   node ${args.map((a) => a.replace(ROOT + '/', '')).join(' ')}\n`);
}
const c = Object.fromEntries(Object.keys(cpu).map((n) => [n, stat(n, cpu)])) as Record<string, ReturnType<typeof stat>>;
for (const name of Object.keys(cpu)) {
  const x = c[name]!;
  process.stdout.write(`${name.padEnd(9)} CPU    ${String(x.median).padStart(7)} ms, p90 ${String(x.p90).padStart(7)} ms (user+system of the process${name === 'baseline' ? '' : `, ${round(x.median / c.baseline!.median)}x baseline`})\n`);
}
process.stdout.write(`load average (1, 5, 15 min): ${loadBefore} before, ${loadAfter} after, ${availableParallelism()} core(s)\n`);
process.stdout.write(`budget: help and validate under ${BUDGET_MS} ms: ${s.help!.median < BUDGET_MS && s.validate!.median < BUDGET_MS ? 'met' : 'NOT met'} on this machine now\n`);
process.stdout.write(
  JSON.stringify({
    bench: 'cli',
    runs: RUNS,
    baseline_ms: s.baseline!.median,
    help_ms: s.help!.median,
    validate_ms: s.validate!.median,
    source_help_ms: s.source!.median,
    baseline_cpu_ms: c.baseline!.median,
    help_cpu_ms: c.help!.median,
    validate_cpu_ms: c.validate!.median,
    load_before: loadBefore,
    load_after: loadAfter,
    help_ratio: round(s.help!.median / s.baseline!.median),
    validate_ratio: round(s.validate!.median / s.baseline!.median),
    budget_ms: BUDGET_MS,
    help_under_budget: s.help!.median < BUDGET_MS,
    validate_under_budget: s.validate!.median < BUDGET_MS,
  }) + '\n',
);
