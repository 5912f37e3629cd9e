import { get } from '../api.ts';
import { href } from '../route.ts';
import { Badge, Empty, ErrorBox, Loading, useLoad } from '../ui.tsx';
import { count, when } from '../format.ts';

export interface ConnectorInfo {
  name: string;
  title: string;
  category?: string;
  description?: string;
  docs_url?: string;
  environments: string[];
  auth: string;
  credentials: Array<{ name: string; title: string; secret: boolean; required: boolean; generated?: boolean; description?: string }>;
  settings: Array<{ name: string; title: string; type: string; required: boolean; choices?: boolean; description?: string; pattern?: string; default?: unknown }>;
  streams: Record<string, { entity: string }>;
  webhooks: string;
  calls_tax_api: boolean;
}

export function Connections() {
  const connectors = useLoad(() => get<{ data: ConnectorInfo[]; failures: Array<{ path: string; message: string }> }>('/admin/connectors'), []);
  const conns = useLoad(() => get<{ data: any[] }>('/admin/connections'), []);
  if (connectors.error) return <ErrorBox error={connectors.error} />;
  if (!connectors.data || !conns.data) return <Loading />;
  const live = conns.data.data.filter((c) => c.status !== 'disconnected');
  const perConnector = (name: string) => live.filter((c) => c.connector === name).length;
  return (
    <section>
      <h1>Connections</h1>
      <h2>Connect a system</h2>
      {connectors.data.data.length === 0 ? (
        <Empty title="No connector specs are loaded.">
          <p>Put connector YAML files in the connectors folder (TAXBRIDGE_CONNECTORS_DIR) and restart taxbridge serve.</p>
        </Empty>
      ) : (
        <ul class="tiles">
          {connectors.data.data.map((c) => (
            <li class="tile" key={c.name} data-connector={c.name}>
              <div class="tile-head">
                <h3>{c.title}</h3>
                {c.category ? <span class="tag">{c.category}</span> : null}
              </div>
              <p class="desc">{c.description}</p>
              <p class="meta">
                {perConnector(c.name) === 1 ? '1 connection' : `${count(perConnector(c.name))} connections`}
                {c.docs_url ? (
                  <>
                    {' · '}
                    <a href={c.docs_url} target="_blank" rel="noopener noreferrer">
                      API docs<span class="sr-only"> for {c.title}</span>
                    </a>
                  </>
                ) : null}
              </p>
              <a class="button" href={href('connect', c.name)} aria-label={`Connect ${c.title}`}>
                Connect
              </a>
            </li>
          ))}
        </ul>
      )}
      {connectors.data.failures.length ? (
        <div class="alert alert-error" role="alert">
          <strong>Connector specs that did not load:</strong>
          <ul>
            {connectors.data.failures.map((f) => (
              <li key={f.path}>
                {f.path}: {f.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <h2>Your connections</h2>
      {conns.data.data.length === 0 ? (
        <Empty title="Nothing is connected yet.">
          <p>Choose a system above and click Connect.</p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">System</th>
                <th scope="col">Organization</th>
                <th scope="col">Environment</th>
                <th scope="col">Status</th>
                <th scope="col">Backfill</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {conns.data.data.map((c) => (
                <tr key={c.id}>
                  <td>
                    <a href={href('connections', c.id)}>{c.connector_title ?? c.connector}</a>
                  </td>
                  <td class="mono">{c.organization_id}</td>
                  <td>{c.environment}</td>
                  <td>
                    <Badge status={c.status} />
                  </td>
                  <td>{c.backfill?.status ?? '—'}</td>
                  <td>{when(c.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
