/**
 * The connect flow, generated from the connector spec: organization and environment, the credentials the
 * spec asks for (secrets masked), "Test credentials and connect"; then whatever the connection still needs
 * (its next_step): a setting chosen from the system's own list (Rillet's subsidiary), the webhook URL to
 * paste into the system and the signing token it shows, or the OAuth consent.
 */
import { useMemo, useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { href } from '../route.ts';
import { CopyValue, Empty, ErrorBox, Field, Loading, Select, errorFor, useLoad } from '../ui.tsx';
import type { ConnectorInfo } from './Connections.tsx';

interface ConnectResult {
  connection: any;
  choices?: Record<string, Array<{ value: string; label: string }>>;
  webhook_url?: string;
  messages?: string[];
  tax_api_key?: string;
  authorization_url?: string;
}

export function Connect(props: { connector: string }) {
  const connectors = useLoad(() => get<{ data: ConnectorInfo[] }>('/admin/connectors'), []);
  const orgs = useLoad(() => get<{ data: any[] }>('/admin/organizations'), []);
  const [result, setResult] = useState<ConnectResult>();
  const spec = connectors.data?.data.find((c) => c.name === props.connector);
  if (connectors.error || orgs.error) return <ErrorBox error={connectors.error ?? orgs.error} />;
  if (!connectors.data || !orgs.data) return <Loading />;
  if (!spec) {
    return (
      <section>
        <h1>Unknown system</h1>
        <Empty title={`No connector spec named "${props.connector}" is loaded.`}>
          <a href={href('connections')}>Back to Connections</a>
        </Empty>
      </section>
    );
  }
  return (
    <section class="connect">
      <p class="crumbs">
        <a href={href('connections')}>Connections</a> / Connect {spec.title}
      </p>
      <h1>Connect {spec.title}</h1>
      {spec.description ? <p class="lead">{spec.description}</p> : null}
      {result ? <NextStep spec={spec} result={result} onResult={setResult} /> : <CredentialsStep spec={spec} orgs={orgs.data.data} onResult={setResult} />}
    </section>
  );
}

const ENV_MODE: Record<string, string> = { sandbox: 'test', production: 'live' };

function CredentialsStep(props: { spec: ConnectorInfo; orgs: any[]; onResult: (r: ConnectResult) => void }) {
  const { spec } = props;
  const envs = spec.environments.includes('sandbox') ? ['sandbox', ...spec.environments.filter((e) => e !== 'sandbox')] : spec.environments;
  const [environment, setEnvironment] = useState(envs[0] ?? 'production');
  const fitting = props.orgs.filter((o) => !ENV_MODE[environment] || o.mode === ENV_MODE[environment]);
  const [org, setOrg] = useState<string>('');
  const orgId = fitting.some((o) => o.id === org) ? org : (fitting[0]?.id ?? '');
  const [baseUrl, setBaseUrl] = useState('');
  const asked = useMemo(() => spec.credentials.filter((c) => c.required && !c.generated), [spec]);
  const [creds, setCreds] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const oauth = spec.auth.startsWith('oauth2');

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const credentials = Object.fromEntries(asked.map((c) => [c.name, (creds[c.name] ?? '').trim()]));
      const r = await api<{ data: ConnectResult }>('POST', '/admin/connections', {
        connector: spec.name,
        organization_id: orgId,
        environment,
        ...(baseUrl.trim() ? { base_url: baseUrl.trim() } : {}),
        ...(asked.length ? { credentials } : {}),
      });
      props.onResult(r.data);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (name: string) => errorFor(error, name) ?? errorFor(error, `credentials.${name}`);
  const fieldNames = ['organization_id', 'environment', 'base_url', ...asked.flatMap((c) => [c.name, `credentials.${c.name}`])];
  return (
    <form class="card" onSubmit={submit} aria-label={`${spec.title} credentials`}>
      <h2>1. {oauth ? 'Where to connect' : 'Credentials'}</h2>
      <Select label="Environment" name="environment" value={environment} onChange={setEnvironment} options={envs.map((e) => ({ value: e, label: e === 'sandbox' ? 'Sandbox (test organization)' : e === 'production' ? 'Production (live organization)' : e }))} error={errorFor(error, 'environment')} />
      {fitting.length === 0 ? (
        <div class="alert" role="status">
          A {environment} connection belongs to a {ENV_MODE[environment] ?? ''} organization, and there is none yet. <a href={href('organizations')}>Create one on the Organizations page</a>, then come back.
        </div>
      ) : (
        <Select label="Organization" name="organization_id" value={orgId} onChange={setOrg} options={fitting.map((o) => ({ value: o.id, label: `${o.name} (${o.mode})` }))} error={errorFor(error, 'organization_id')} />
      )}
      {asked.map((c) => (
        <Field key={c.name} label={c.title} name={c.name} type={c.secret ? 'password' : 'text'} autoComplete={c.secret ? 'new-password' : 'off'} required value={creds[c.name] ?? ''} onInput={(v) => setCreds({ ...creds, [c.name]: v })} hint={c.description} error={fieldError(c.name)} />
      ))}
      <details>
        <summary>Advanced</summary>
        <Field label="API base URL" name="base_url" value={baseUrl} onInput={setBaseUrl} placeholder="the system's own address for this environment" hint="Only for a self-hosted system, a proxy or a test double; leave empty otherwise." error={errorFor(error, 'base_url')} />
      </details>
      <ErrorBox error={error} fields={fieldNames} />
      <button type="submit" disabled={busy || !orgId}>
        {busy ? 'Testing credentials…' : oauth ? `Continue to ${spec.title}` : 'Test credentials and connect'}
      </button>
    </form>
  );
}

/** Messages of a connect answer meant for a person (those addressed to API callers are rephrased by the steps). */
function peopleMessages(r: ConnectResult): string[] {
  return (r.messages ?? []).filter((m) => !/\b(settings|credentials)\.[a-z_]|--/.test(m));
}

export function NextStep(props: { spec: ConnectorInfo; result: ConnectResult; onResult: (r: ConnectResult) => void }) {
  const { spec, result } = props;
  const conn = result.connection;
  const step = conn.next_step;
  const [value, setValue] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const choicesFromResult = step?.step === 'choose_setting' ? result.choices?.[step.setting] : undefined;
  const choices = useLoad(
    () => (step?.step === 'choose_setting' && !choicesFromResult ? get<{ data: Array<{ value: string; label: string }> }>(`/admin/connections/${conn.id}/choices/${step.setting}`).then((r) => r.data) : Promise.resolve(choicesFromResult ?? [])),
    [conn.id, step?.step, step?.setting],
  );
  const send = async (body: unknown) => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<{ data: ConnectResult }>('PATCH', `/admin/connections/${conn.id}`, body);
      setValue('');
      props.onResult({ ...r.data, webhook_url: r.data.webhook_url ?? r.data.connection.webhook_url ?? result.webhook_url });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const messages = peopleMessages(result).filter((m) => !(result.webhook_url && m.includes(result.webhook_url)));
  const checked = messages.length ? (
    <div class="alert alert-ok" role="status" data-testid="connect-messages">
      <ul>
        {messages.map((m) => (
          <li key={m}>{m}</li>
        ))}
      </ul>
    </div>
  ) : null;

  if (conn.status === 'active') {
    return (
      <div class="card" data-testid="connected">
        {checked}
        <h2>Connected</h2>
        {result.tax_api_key ? (
          <div class="once">
            <p>
              <strong>Tax API key for {spec.title}, shown only now.</strong> Paste it into {spec.title}'s tax integration ("Sphere" / tax API key field) and click "Test credentials" there; then save.
            </p>
            <CopyValue label="Tax API key" name="tax-api-key" value={result.tax_api_key} />
          </div>
        ) : null}
        <p>The backfill of {spec.title}'s data starts now; schedules and webhooks keep it current.</p>
        <a class="button" href={href('connections', conn.id)}>
          Open the connection
        </a>
      </div>
    );
  }
  if (!step) return <div class="card">{checked}<p>The connection is {conn.status}.</p></div>;
  const setting = spec.settings.find((s) => s.name === step.setting);
  if (step.step === 'choose_setting') {
    const list = choices.data ?? [];
    const chosen = value || list[0]?.value || '';
    return (
      <form class="card" onSubmit={(e) => (e.preventDefault(), send({ settings: { [step.setting]: chosen } }))} aria-label={`Choose ${step.title}`}>
        {checked}
        <h2>2. Choose the {step.title.toLowerCase()}</h2>
        {choices.error ? <ErrorBox error={choices.error} /> : !choices.data ? <Loading /> : list.length === 0 ? <Empty title={`${spec.title} offers no ${step.title.toLowerCase()} to choose.`} /> : <Select label={step.title} name={step.setting} value={chosen} onChange={setValue} options={list.map((c) => ({ value: String(c.value), label: c.label }))} hint={setting?.description} error={errorFor(error, `settings.${step.setting}`) ?? errorFor(error, step.setting)} />}
        <ErrorBox error={error} fields={[`settings.${step.setting}`, step.setting]} />
        <button type="submit" disabled={busy || !chosen}>
          Next
        </button>
      </form>
    );
  }
  if (step.step === 'provide_setting') {
    return (
      <form class="card" onSubmit={(e) => (e.preventDefault(), send({ settings: { [step.setting]: value.trim() } }))} aria-label={step.title}>
        {checked}
        <h2>2. {step.title}</h2>
        <Field label={step.title} name={step.setting} value={value} onInput={setValue} required hint={setting?.description} error={errorFor(error, `settings.${step.setting}`) ?? errorFor(error, step.setting)} />
        <ErrorBox error={error} fields={[`settings.${step.setting}`, step.setting]} />
        <button type="submit" disabled={busy || !value.trim()}>
          Next
        </button>
      </form>
    );
  }
  if (step.step === 'webhook_secret') {
    const cred = spec.credentials.find((c) => c.name === step.credential);
    const url = result.webhook_url ?? conn.webhook_url;
    return (
      <form class="card" onSubmit={(e) => (e.preventDefault(), send({ credentials: { [step.credential]: value.trim() } }))} aria-label="Webhook">
        {checked}
        <h2>3. Webhook</h2>
        <ol class="steps">
          <li>
            Copy this webhook URL:
            <CopyValue label={`${spec.title} webhook URL`} name="webhook-url" value={url} />
          </li>
          <li>In {spec.title}, create a webhook with this URL in its URL field, subscribed to the invoice and credit note events (created, updated, deleted, payment updated), and save it.</li>
          <li>Copy the webhook's signing token that {spec.title} shows and paste it below.</li>
        </ol>
        <Field label={step.title} name={step.credential} type="password" autoComplete="new-password" required value={value} onInput={setValue} hint={cred?.description} error={errorFor(error, `credentials.${step.credential}`) ?? errorFor(error, step.credential)} />
        <ErrorBox error={error} fields={[`credentials.${step.credential}`, step.credential]} />
        <button type="submit" disabled={busy || !value.trim()}>
          {busy ? 'Saving…' : 'Save and finish'}
        </button>
      </form>
    );
  }
  if (step.step === 'authorize') {
    return (
      <div class="card">
        {checked}
        <h2>Authorize {spec.title}</h2>
        {step.authorization_url ? (
          <>
            <p>{spec.title} asks you to sign in and give consent; you come back here afterwards.</p>
            <a class="button" href={step.authorization_url} rel="noopener noreferrer">
              Connect with {spec.title}
            </a>
          </>
        ) : (
          <button type="button" disabled={busy} onClick={async () => {
            setBusy(true);
            try {
              const r = await api<{ data: ConnectResult }>('POST', `/admin/connections/${conn.id}/reauthorize`);
              props.onResult(r.data);
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}>
            Get a consent link
          </button>
        )}
        <ErrorBox error={error} />
      </div>
    );
  }
  return <div class="card">{checked}<p>Next: {step.title}</p></div>;
}
