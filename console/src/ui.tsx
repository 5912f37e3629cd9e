/** Small building blocks shared by the pages: fields with their errors next to them, copy buttons, empty states. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.ts';

let fieldSeq = 0;
export function useId(prefix: string): string {
  const [id] = useState(() => `${prefix}-${++fieldSeq}`);
  return id;
}

export function Field(props: {
  label: string;
  name: string;
  value: string;
  onInput: (v: string) => void;
  type?: string;
  hint?: string;
  error?: string;
  required?: boolean;
  autoComplete?: string;
  placeholder?: string;
}) {
  const id = useId(props.name);
  const hintId = `${id}-hint`;
  const errId = `${id}-err`;
  const described = [props.hint ? hintId : '', props.error ? errId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${props.error ? ' has-error' : ''}`}>
      <label for={id}>
        {props.label}
        {props.required ? <span class="req" aria-hidden="true"> *</span> : null}
      </label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value}
        required={props.required}
        autoComplete={props.autoComplete ?? 'off'}
        placeholder={props.placeholder}
        spellcheck={false}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={described}
        onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)}
      />
      {props.hint ? <p class="hint" id={hintId}>{props.hint}</p> : null}
      {props.error ? <p class="error" id={errId} role="alert">{props.error}</p> : null}
    </div>
  );
}

export function Select(props: { label: string; name: string; value: string; onChange: (v: string) => void; options: Array<{ value: string; label: string }>; hint?: string; error?: string; required?: boolean }) {
  const id = useId(props.name);
  return (
    <div class={`field${props.error ? ' has-error' : ''}`}>
      <label for={id}>{props.label}</label>
      <select id={id} name={props.name} value={props.value} required={props.required} aria-invalid={props.error ? true : undefined} aria-describedby={props.error ? `${id}-err` : props.hint ? `${id}-hint` : undefined} onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}>
        {props.options.map((o) => (
          <option value={o.value} key={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {props.hint ? <p class="hint" id={`${id}-hint`}>{props.hint}</p> : null}
      {props.error ? <p class="error" id={`${id}-err`} role="alert">{props.error}</p> : null}
    </div>
  );
}

/** Errors of an API answer: the one for `param` goes next to its field, the rest in a box. */
export function errorFor(err: unknown, param: string): string | undefined {
  return err instanceof ApiError && err.param === param ? err.message : undefined;
}

export function ErrorBox(props: { error: unknown; fields?: string[] }) {
  const e = props.error;
  if (!e) return null;
  if (e instanceof ApiError && e.param && props.fields?.includes(e.param)) return null;
  const body = e instanceof ApiError ? e.body : { code: 'error', message: e instanceof Error ? e.message : String(e) };
  return (
    <div class="alert alert-error" role="alert">
      <strong>{body.message}</strong>
      {body.hint ? <p>{body.hint}</p> : null}
      <p class="code">code: {body.code}</p>
    </div>
  );
}

export function CopyButton(props: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="secondary"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(props.text);
          setDone(true);
          setTimeout(() => setDone(false), 2000);
        } catch {
          setDone(false);
        }
      }}
    >
      {done ? 'Copied' : props.label}
    </button>
  );
}

/** A value to copy: shown selectable in full, with its copy button. */
export function CopyValue(props: { label: string; value: string; name: string }) {
  const id = useId(props.name);
  return (
    <div class="copy-value">
      <label for={id}>{props.label}</label>
      <div class="row">
        <input id={id} data-testid={props.name} readOnly value={props.value} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        <CopyButton text={props.value} label="Copy" />
      </div>
    </div>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{props.title}</p>
      {props.children}
    </div>
  );
}

export function Loading() {
  return <p class="loading" role="status">Loading…</p>;
}

export function Badge(props: { status: string }) {
  return <span class={`badge badge-${props.status.replace(/[^a-z_]/g, '')}`}>{props.status.replace(/_/g, ' ')}</span>;
}

/** Loads `fn` now and whenever `deps` change; `reload()` loads again. Polls every `pollMs` while given. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[], pollMs?: number): { data?: T; error?: unknown; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown }>({});
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    fn().then(
      (data) => live && setState({ data }),
      (error) => live && setState((s) => ({ data: s.data, error })),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  useEffect(() => {
    if (!pollMs) return;
    const t = setInterval(() => setTick((x) => x + 1), pollMs);
    return () => clearInterval(t);
  }, [pollMs, ...deps]);
  return { ...state, reload: () => setTick((x) => x + 1) };
}
