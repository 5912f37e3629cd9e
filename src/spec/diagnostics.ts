/** A problem found in a spec file, pointing at file:line:column (1-based) with a stable code and a hint. */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  code: string;
  message: string;
  hint?: string;
  severity: 'error' | 'warning';
  /** Dotted location inside the document, e.g. `streams.customers.pagination`. */
  path?: string;
}

export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code));
}

export function formatText(d: Diagnostic): string {
  const head = `${d.file}:${d.line}:${d.column} ${d.severity === 'warning' ? 'warning ' : ''}${d.code} ${d.message}`;
  return d.hint ? `${head}\n    hint: ${d.hint}` : head;
}

/** GitHub Actions workflow command; message text escaped as the runner requires. */
export function formatGithub(d: Diagnostic): string {
  const esc = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const prop = (s: string) => esc(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
  const msg = `${d.code} ${d.message}${d.hint ? ` (hint: ${d.hint})` : ''}`;
  return `::${d.severity === 'warning' ? 'warning' : 'error'} file=${prop(d.file)},line=${d.line},col=${d.column},title=${prop(d.code)}::${esc(msg)}`;
}

export function hasErrors(ds: Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}
