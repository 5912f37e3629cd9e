/** One connection: status, live backfill and sync progress (server-sent events; polled when they fail), counts per stream, webhooks, write-backs with Replay, errors, disconnect. */
import { useEffect, useState } from 'preact/hooks';
import { api, get, subscribe } from '../api.ts';
import { href } from '../route.ts';
import { count, when } from '../format.ts';
import { Badge, Empty, ErrorBox, Loading, useLoad } from '../ui.tsx';
import type { ConnectorInfo } from './Connections.tsx';
import { NextStep } from './Connect.tsx';

/** The connection's status pushed by the server (server-sent events); undefined `live` while it cannot be had. */
function useLiveStatus(id: string): { live?: any; streaming: boolean } {
  const [state, setState] = useState<{ live?: any; streaming: boolean }>({ streaming: true });
  useEffect(() => {
    setState({ streaming: true });
    return subscribe<any>(`/admin/connections/${encodeURIComponent(id)}/status/stream`, (live) => setState({ live, streaming: true }), () => setState({ streaming: false }));
  }, [id]);
  return state;
}

export function Connection(props: { id: string }) {
  const [fast, setFast] = useState(true);
  const { live, streaming } = useLiveStatus(props.id);
  // Polling only when the stream is down (refused, dropped, no EventSource): every second while running.
  const polled = useLoad(() => get<{ data: any }>(`/admin/connections/${props.id}`).then((r) => r.data), [props.id], streaming ? undefined : fast ? 1000 : 5000);
  const status = { ...polled, data: streaming && live ? live : polled.data };
  const events = useLoad(() => get<{ data: any[] }>('/admin/events', { connection: props.id, limit: 20 }).then((r) => r.data), [props.id], 3000);
  const refused = useLoad(() => get<{ data: any }>('/admin/webhooks/refused', { connection: props.id, limit: 20 }).then((r) => r.data), [props.id], 3000);
  // A connector with one webhook URL for all its connections (QuickBooks): refusals there name no connection.
  const sharedConnector = /\/webhooks\/connectors\/[a-z0-9_]+$/.test(String(status.data?.webhook_url ?? '')) ? String(status.data.connector) : undefined;
  const sharedRefused = useLoad(() => (sharedConnector ? get<{ data: any }>('/admin/webhooks/refused', { connector: sharedConnector, limit: 20 }).then((r) => r.data) : Promise.resolve(undefined)), [sharedConnector], 5000);
  const shared = sharedConnector !== undefined;
  const jobs = useLoad(() => get<{ data: any[] }>('/admin/writebacks', { connection: props.id, limit: 20 }).then((r) => r.data), [props.id], 3000);
  const connectors = useLoad(() => get<{ data: ConnectorInfo[] }>('/admin/connectors').then((r) => r.data), []);
  const [actionError, setActionError] = useState<unknown>();
  const [confirming, setConfirming] = useState(false);
  const [notice, setNotice] = useState('');

  if (status.error && !status.data) return <ErrorBox error={status.error} />;
  const c = status.data;
  if (!c) return <Loading />;
  const running = c.backfill?.status === 'running' || c.backfill?.status === 'pending' || Object.values<any>(c.sync ?? {}).some((s) => s.running);
  if (fast !== running) setFast(running);
  const spec = connectors.data?.find((x) => x.name === c.connector);

  const act = async (what: string, fn: () => Promise<unknown>) => {
    setActionError(undefined);
    setNotice('');
    try {
      await fn();
      setNotice(what);
      status.reload();
      jobs.reload();
      events.reload();
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <section>
      <p class="crumbs">
        <a href={href('connections')}>Connections</a> / {c.connector_title ?? c.connector}
      </p>
      <h1>
        {c.connector_title ?? c.connector} <Badge status={c.status} />
      </h1>
      <dl class="facts">
        <dt>Connection</dt>
        <dd class="mono">{c.id}</dd>
        <dt>Organization</dt>
        <dd>
          <a href={href('organizations', c.organization_id)}>{c.organization_id}</a>
        </dd>
        <dt>Environment</dt>
        <dd>{c.environment}</dd>
        <dt>Webhooks</dt>
        <dd>{c.webhook?.mode === 'api' ? `registered by API ${when(c.webhook.registered_at)}` : c.webhook?.mode === 'manual' ? 'created by you in the system' : 'none'}</dd>
        {c.tax_api_key ? (
          <>
            <dt>Tax API key</dt>
            <dd class="mono">{c.tax_api_key.prefix}…</dd>
          </>
        ) : null}
      </dl>
      {notice ? <p class="alert alert-ok" role="status">{notice}</p> : null}
      <ErrorBox error={actionError} />
      {c.status === 'pending' && spec ? <NextStep spec={spec} result={{ connection: c, webhook_url: c.webhook_url }} onResult={() => status.reload()} /> : null}

      <h2>Backfill and sync</h2>
      <p data-testid="backfill-status">
        Backfill: <Badge status={c.backfill?.status ?? 'not_started'} />
        {c.backfill?.finished_at ? ` finished ${when(c.backfill.finished_at)}` : c.backfill?.started_at ? ` started ${when(c.backfill.started_at)}` : ''}
      </p>
      {c.sync && Object.keys(c.sync).length ? (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Records per stream</caption>
            <thead>
              <tr>
                <th scope="col">Stream</th>
                <th scope="col" class="num">Records</th>
                <th scope="col" class="num">Deleted</th>
                <th scope="col">Last sync</th>
                <th scope="col">Next run</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries<any>(c.sync).map(([name, s]) => (
                <tr key={name} data-stream={name}>
                  <td>
                    <a href={href('data', c.id, name)}>{name}</a>
                  </td>
                  <td class="num">{count(s.counts?.active)}</td>
                  <td class="num">{count(s.counts?.deleted)}</td>
                  <td>{s.running ? 'running…' : s.last_sync ? `${s.last_sync.status} ${when(s.last_sync.finished_at)}` : '—'}</td>
                  <td>{when(s.schedule?.next_run)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <Empty title="Nothing synced yet." />
      )}
      {c.status === 'active' ? (
        <button type="button" class="secondary" onClick={() => act('Sync started.', () => api('POST', `/admin/connections/${c.id}/sync`, {}))}>
          Sync now
        </button>
      ) : null}

      <h2>Errors</h2>
      {c.errors?.length ? (
        <ul class="errors">
          {c.errors.map((e: any, i: number) => (
            <li key={i}>
              <span class="tag">{e.source}</span> <code>{e.code}</code> {e.message} <span class="muted">{when(e.at)}</span>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No errors.</p>
      )}

      <h2>Write-backs</h2>
      <p>
        {count(c.writebacks?.applied)} applied · {count(c.writebacks?.pending)} pending · <span data-testid="dead-count">{count(c.writebacks?.dead)}</span> dead
      </p>
      {jobs.data?.length ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Document</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.map((j) => (
                <tr key={j.id} data-job={j.id} data-status={j.status}>
                  <td class="mono">{j.document_id}</td>
                  <td>{j.kind}</td>
                  <td>
                    <Badge status={j.status} />
                  </td>
                  <td class="num">{j.attempts ?? 0}</td>
                  <td>{j.last_error ? `${j.last_error.code}: ${j.last_error.message}` : '—'}</td>
                  <td>
                    {j.status === 'dead' ? (
                      <button type="button" onClick={() => act(`Write-back ${j.id} run again.`, () => api('POST', `/admin/writebacks/${j.id}/replay`))} aria-label={`Replay write-back of ${j.document_id}`}>
                        Replay
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="muted">No write-backs yet: they appear when {c.connector_title ?? 'the system'} sends an invoice to tax.</p>
      )}

      <h2>Recent webhook deliveries</h2>
      <p>
        {count(c.webhooks?.received)} received · {count(c.webhooks?.failed)} failed · {count(c.webhooks?.pending)} pending
      </p>
      {events.data?.length ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {events.data.map((e) => (
                <tr key={e.id}>
                  <td>{when(e.received_at)}</td>
                  <td>{e.event_type}</td>
                  <td>
                    <Badge status={e.status} />
                  </td>
                  <td>{e.last_error ? `${e.last_error.code}: ${e.last_error.message}` : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="muted">No webhook deliveries yet.</p>
      )}

      <h3>Refused deliveries</h3>
      <Refused record={refused.data} />
      {shared ? (
        <>
          <h3>Refused at the shared URL of {c.connector_title ?? c.connector}</h3>
          <p class="muted">Deliveries to {c.webhook_url} that could not be verified belong to no connection yet; they are listed here for every {c.connector_title ?? c.connector} connection.</p>
          <Refused record={sharedRefused.data} />
        </>
      ) : null}

      <h2>Manage</h2>
      <div class="row">
        {c.status === 'needs_reauthorization' || spec?.auth.startsWith('oauth2') ? (
          <button type="button" class="secondary" onClick={() => act('A new consent link was made.', async () => {
            const r = await api('POST', `/admin/connections/${c.id}/reauthorize`);
            if (r.data?.authorization_url) location.assign(r.data.authorization_url);
          })}>
            Re-authorize
          </button>
        ) : null}
        {c.status !== 'disconnected' ? (
          confirming ? (
            <div class="confirm" role="group" aria-label="Confirm disconnect">
              <p>Disconnect stops schedules and webhooks, revokes its tax API key and erases the stored credentials. The data stays.</p>
              <button type="button" class="danger" onClick={() => act('Disconnected.', () => api('DELETE', `/admin/connections/${c.id}`)).then(() => setConfirming(false))}>
                Yes, disconnect
              </button>
              <button type="button" class="secondary" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          ) : (
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Disconnect…
            </button>
          )
        ) : null}
      </div>
    </section>
  );
}

/** Refused deliveries of one bucket (GET /admin/webhooks/refused): count and the most recent with their code. */
function Refused(props: { record?: any }) {
  const r = props.record;
  if (!r?.count) return <p class="muted">No refused deliveries.</p>;
  return (
    <>
      <p data-testid="refused-count">
        {count(r.count)} refused{r.count > r.recent.length ? `, the last ${r.recent.length} shown` : ''}. They were not stored or applied; the code says why (webhook_signature_invalid from the system itself usually means a wrong signing token).
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Refused</th>
              <th scope="col">Answer</th>
              <th scope="col" class="num">Bytes</th>
              <th scope="col">From</th>
              <th scope="col">Delivery id</th>
            </tr>
          </thead>
          <tbody>
            {r.recent.map((x: any, i: number) => (
              <tr key={i} data-refused={x.code}>
                <td>{when(x.at)}</td>
                <td>
                  {x.status} <code>{x.code}</code>
                </td>
                <td class="num">{x.size === null ? '—' : count(x.size)}</td>
                <td class="mono">{x.remote_address ?? '—'}</td>
                <td class="mono">{x.delivery_id ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
