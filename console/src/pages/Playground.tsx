/**
 * Spec playground: edit a connector spec and see the validator's diagnostics (line:column, code, hint) as you type,
 * and try a stream's mapping on a pasted record (POST /admin/specs/try-mapping).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, get } from '../api.ts';
import { ErrorBox, Select, useLoad } from '../ui.tsx';

interface Diag {
  line: number;
  column: number;
  code: string;
  message: string;
  hint?: string;
  severity: 'error' | 'warning';
  path?: string;
}

const STARTER = `spec_version: 1
name: example
title: Example Billing
category: billing
description: A starting point; choose a loaded spec above to edit a real one.
environments:
  production:
    base_url: https://api.example.com
auth:
  type: bearer
  token: "{{ credentials.api_key }}"
credentials:
  - name: api_key
    title: API key
streams:
  customers:
    entity: customer
    request:
      path: /customers
    records: $.data
    mapping: |
      {
        "external_id": id,
        "name": name
      }
`;

export function Playground() {
  const connectors = useLoad(() => get<{ data: Array<{ name: string; title: string }> }>('/admin/connectors').then((r) => r.data), []);
  const [text, setText] = useState(STARTER);
  const [result, setResult] = useState<{ valid: boolean; errors: number; warnings: number; diagnostics: Diag[]; connector?: { name: string; streams: string[] } }>();
  const [error, setError] = useState<unknown>();
  const [from, setFrom] = useState('');
  const area = useRef<HTMLTextAreaElement>(null);

  // Validate 300 ms after the last keystroke; an older answer never replaces a newer one.
  const seq = useRef(0);
  useEffect(() => {
    const n = ++seq.current;
    const t = setTimeout(async () => {
      try {
        const r = await api('POST', '/admin/specs/validate', { yaml: text });
        if (n === seq.current) {
          setResult(r.data);
          setError(undefined);
        }
      } catch (e) {
        if (n === seq.current) setError(e);
      }
    }, 300);
    return () => clearTimeout(t);
  }, [text]);

  const load = async (name: string) => {
    setFrom(name);
    if (!name) return;
    const res = await fetch(`/admin/connectors/${encodeURIComponent(name)}/spec`, { credentials: 'same-origin' });
    if (res.ok) setText(await res.text());
  };

  /** Puts the cursor at a diagnostic's line and column in the editor. */
  const goTo = (d: Diag) => {
    const el = area.current;
    if (!el) return;
    const lines = text.split('\n');
    let offset = 0;
    for (let i = 0; i < d.line - 1 && i < lines.length; i++) offset += lines[i]!.length + 1;
    offset += Math.max(0, d.column - 1);
    el.focus();
    el.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(el).lineHeight) || 18;
    el.scrollTop = Math.max(0, (d.line - 5) * lineHeight);
  };

  return (
    <section>
      <h1>Spec playground</h1>
      <p class="lead">Edit a connector spec; the same checks as <code>taxbridge validate</code> run as you type. Nothing is saved or loaded into the server.</p>
      <div class="toolbar">
        <Select label="Start from" name="start-from" value={from} onChange={load} options={[{ value: '', label: 'The example' }, ...(connectors.data ?? []).map((c) => ({ value: c.name, label: `${c.title} (${c.name}.yaml)` }))]} />
      </div>
      <div class="editor">
        <div class="field">
          <label for="spec-text">Connector spec (YAML)</label>
          <textarea id="spec-text" ref={area} class="code" spellcheck={false} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} aria-describedby="spec-status" />
        </div>
        <div aria-live="polite">
          <h2 id="spec-status">
            {!result ? 'Checking…' : result.valid ? (result.warnings ? `Valid, ${result.warnings} warning${result.warnings === 1 ? '' : 's'}` : 'Valid') : `${result.errors} error${result.errors === 1 ? '' : 's'}`}
          </h2>
          <ErrorBox error={error} />
          {result?.connector ? <p class="muted">Streams: {result.connector.streams.join(', ')}</p> : null}
          <ul class="diag" data-testid="diagnostics">
            {(result?.diagnostics ?? []).map((d, i) => (
              <li key={i} class={d.severity} data-line={d.line}>
                <button type="button" class="link" onClick={() => goTo(d)}>
                  {d.line}:{d.column}
                  <span class="sr-only"> (go to line {d.line}, column {d.column})</span>
                </button>{' '}
                <code>{d.code}</code> {d.message}
                {d.hint ? <p class="hint">hint: {d.hint}</p> : null}
              </li>
            ))}
          </ul>
        </div>
      </div>
      <TryMapping text={text} streams={result?.connector?.streams ?? []} />
    </section>
  );
}

const SAMPLE_RECORD = '{\n  "id": "cus_1",\n  "name": "Acme Ltd"\n}';

/** "Try the mapping": one pasted record through a stream's mapping of the spec being edited. */
function TryMapping(props: { text: string; streams: string[] }) {
  const [stream, setStream] = useState('');
  const [record, setRecord] = useState(SAMPLE_RECORD);
  const [output, setOutput] = useState<{ external_id: string; deleted: boolean; record: unknown }>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const chosen = props.streams.includes(stream) ? stream : (props.streams[0] ?? '');

  const run = async (e: Event) => {
    e.preventDefault();
    setOutput(undefined);
    setError(undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(record);
    } catch (err) {
      setError(new ApiError(400, { code: 'invalid_json', message: `the record is not JSON: ${(err as Error).message}`, param: 'record' }));
      return;
    }
    setBusy(true);
    try {
      const r = await api('POST', '/admin/specs/try-mapping', { yaml: props.text, stream: chosen, record: parsed });
      setOutput(r.data);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const errorOf = (field: string) => (error instanceof ApiError && error.param === field ? error : undefined);
  const fieldError = (field: string) => {
    const err = errorOf(field);
    if (!err) return null;
    const position = (err.body as { details?: { position?: number } }).details?.position;
    return (
      <p class="error" id={`try-${field}-err`} role="alert">
        {err.message}
        {position !== undefined ? ` (at character ${position} of the expression)` : ''}
      </p>
    );
  };

  return (
    <form class="try-mapping" onSubmit={run} aria-labelledby="try-title">
      <h2 id="try-title">Try the mapping</h2>
      <p class="muted">Maps one record as the sync would (the stream's primary_key, mapping, spec functions and entity schema), with empty settings. Nothing is stored.</p>
      <div class="editor">
        <div>
          <div class={`field${errorOf('stream') ? ' has-error' : ''}`}>
            <label for="try-stream">Stream</label>
            <select id="try-stream" name="try-stream" value={chosen} onChange={(e) => setStream((e.currentTarget as HTMLSelectElement).value)} disabled={props.streams.length === 0}>
              {props.streams.map((s) => (
                <option value={s} key={s}>
                  {s}
                </option>
              ))}
            </select>
            {props.streams.length === 0 ? <p class="hint">The spec has no valid streams yet.</p> : null}
            {fieldError('stream')}
          </div>
          <div class={`field${errorOf('record') ? ' has-error' : ''}`}>
            <label for="try-record">Record (JSON, as the system's API returns it)</label>
            <textarea id="try-record" class="code short" spellcheck={false} value={record} onInput={(e) => setRecord((e.currentTarget as HTMLTextAreaElement).value)} aria-invalid={errorOf('record') ? true : undefined} aria-describedby={errorOf('record') ? 'try-record-err' : undefined} />
            {fieldError('record')}
          </div>
          <button type="submit" disabled={busy || !chosen}>
            {busy ? 'Mapping…' : 'Map the record'}
          </button>
        </div>
        <div aria-live="polite">
          <h3>Mapped record</h3>
          {fieldError('mapping')}
          <ErrorBox error={error} fields={['stream', 'record', 'mapping']} />
          {output ? (
            <pre class="code" data-testid="mapped-record">
              {JSON.stringify(output, null, 2)}
            </pre>
          ) : null}
        </div>
      </div>
    </form>
  );
}
