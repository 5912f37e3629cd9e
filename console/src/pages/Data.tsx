/** Data: the synced records of a connection, paged and searchable; a record page with an invoice's lines, its tax and its write-back history. */
import { useState } from 'preact/hooks';
import { get } from '../api.ts';
import { go, href } from '../route.ts';
import { count, money, when } from '../format.ts';
import { Badge, Empty, ErrorBox, Loading, Select, useLoad } from '../ui.tsx';

interface RecordView {
  external_id: string;
  entity: string;
  deleted: boolean;
  updated_at: string;
  data: any;
}

export function Data(props: { connection?: string; entity?: string }) {
  const conns = useLoad(() => get<{ data: any[] }>('/admin/connections').then((r) => r.data), []);
  const status = useLoad(() => (props.connection ? get<{ data: any }>(`/admin/connections/${props.connection}`).then((r) => r.data) : Promise.resolve(undefined)), [props.connection]);
  if (conns.error) return <ErrorBox error={conns.error} />;
  if (!conns.data) return <Loading />;
  if (conns.data.length === 0) {
    return (
      <section>
        <h1>Data</h1>
        <Empty title="No data yet: nothing is connected.">
          <p>
            <a href={href('connections')}>Connect a system</a>; its customers, products, invoices and credit notes appear here after the backfill.
          </p>
        </Empty>
      </section>
    );
  }
  const streams = status.data ? Object.entries<any>(status.data.sync ?? {}) : [];
  const stream = props.entity ?? streams.find(([, s]) => s.entity === 'invoice')?.[0] ?? streams[0]?.[0];
  return (
    <section>
      <h1>Data</h1>
      <div class="toolbar">
        <Select label="Connection" name="connection" value={props.connection ?? ''} onChange={(v) => go('data', v)} options={[{ value: '', label: 'Choose a connection…' }, ...conns.data.map((c) => ({ value: c.id, label: `${c.connector_title ?? c.connector} · ${c.organization_id} (${c.status})` }))]} />
      </div>
      {!props.connection ? (
        <Empty title="Choose a connection to see its records." />
      ) : status.error ? (
        <ErrorBox error={status.error} />
      ) : !status.data ? (
        <Loading />
      ) : streams.length === 0 ? (
        <Empty title="This connection has no streams." />
      ) : (
        <>
          <nav aria-label="Streams" class="tabs">
            <ul class="row">
              {streams.map(([name, s]) => (
                <li key={name}>
                  <a href={href('data', props.connection!, name)} aria-current={name === stream ? 'page' : undefined}>
                    {name} ({count(s.counts?.active)})
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          {stream ? <RecordList key={`${props.connection}/${stream}`} connection={props.connection} stream={stream} /> : null}
        </>
      )}
    </section>
  );
}

function summary(r: RecordView): { title: string; sub: string; amount?: string; status?: string } {
  const d = r.data ?? {};
  const title = d.number ?? d.name ?? d.trade_name ?? r.external_id;
  const sub = d.customer_name ?? d.email ?? d.description ?? d.customer_external_id ?? '';
  const amount = d.total !== undefined && d.currency ? money(d.total, d.currency) : undefined;
  return { title: String(title), sub: String(sub), amount, status: d.status ?? (d.active === false || d.archived ? 'archived' : undefined) };
}

function RecordList(props: { connection: string; stream: string }) {
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  const [pages, setPages] = useState<Array<string | undefined>>([undefined]);
  const after = pages[pages.length - 1];
  const list = useLoad(() => get<{ data: RecordView[]; next_after?: string; counts: { active: number } }>(`/admin/connections/${props.connection}/records/${props.stream}`, { q: query, after, limit: 25 }), [props.connection, props.stream, query, after]);
  return (
    <>
      <form class="toolbar" role="search" onSubmit={(e) => (e.preventDefault(), setPages([undefined]), setQuery(q.trim()))}>
        <div class="field">
          <label for="record-search">Search {props.stream}</label>
          <input id="record-search" type="search" value={q} onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)} placeholder="id, name, number, email…" />
        </div>
        <button type="submit">Search</button>
      </form>
      {list.error ? (
        <ErrorBox error={list.error} />
      ) : !list.data ? (
        <Loading />
      ) : list.data.data.length === 0 ? (
        <Empty title={query ? `No ${props.stream} match "${query}".` : `No ${props.stream} synced yet.`}>{query ? <p>Try a shorter search, or clear it.</p> : <p>They appear after the next sync; start one on the connection page.</p>}</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">{props.stream}</caption>
            <thead>
              <tr>
                <th scope="col">Record</th>
                <th scope="col">Details</th>
                <th scope="col" class="num">Total</th>
                <th scope="col">Status</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((r) => {
                const s = summary(r);
                return (
                  <tr key={r.external_id} data-record={r.external_id}>
                    <td>
                      <a href={href('data', props.connection, props.stream, r.external_id)}>{s.title}</a>
                      {r.deleted ? <> <Badge status="deleted" /></> : null}
                    </td>
                    <td>{s.sub}</td>
                    <td class="num">{s.amount ?? '—'}</td>
                    <td>{s.status ? <Badge status={String(s.status).toLowerCase()} /> : '—'}</td>
                    <td>{when(r.updated_at)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <div class="pager">
        {pages.length > 1 ? (
          <button type="button" class="secondary" onClick={() => setPages(pages.slice(0, -1))}>
            Previous page
          </button>
        ) : null}
        {list.data?.next_after ? (
          <button type="button" class="secondary" onClick={() => setPages([...pages, list.data!.next_after])}>
            Next page
          </button>
        ) : null}
      </div>
    </>
  );
}

export function Record(props: { connection: string; entity: string; id: string }) {
  const rec = useLoad(() => get<{ data: RecordView }>(`/admin/connections/${props.connection}/records/${props.entity}/${props.id}`).then((r) => r.data), [props.connection, props.entity, props.id], 3000);
  const jobs = useLoad(() => get<{ data: any[] }>('/admin/writebacks', { connection: props.connection, document: props.id, limit: 20 }).then((r) => r.data), [props.connection, props.id], 3000);
  const latest = jobs.data?.find((j) => j.status === 'applied') ?? jobs.data?.[0];
  const job = useLoad(() => (latest ? get<{ data: any }>(`/admin/writebacks/${latest.id}`).then((r) => r.data) : Promise.resolve(undefined)), [latest?.id, latest?.status]);
  if (rec.error) return <ErrorBox error={rec.error} />;
  const r = rec.data;
  if (!r) return <Loading />;
  const d = r.data ?? {};
  const cur = d.currency;
  const isDocument = Array.isArray(d.lines);
  return (
    <section>
      <p class="crumbs">
        <a href={href('data', props.connection, props.entity)}>Data / {props.entity}</a> / {d.number ?? r.external_id}
      </p>
      <h1>
        {r.entity.replace(/_/g, ' ')} {d.number ?? d.name ?? r.external_id} {d.status ? <Badge status={String(d.status).toLowerCase()} /> : null}
      </h1>
      {isDocument ? (
        <>
          <dl class="facts">
            <dt>Customer</dt>
            <dd>{d.customer_name ?? d.customer_external_id ?? '—'}</dd>
            <dt>Ship to</dt>
            <dd>{d.customer_address ? [d.customer_address.line1, d.customer_address.city, d.customer_address.state, d.customer_address.postal_code, d.customer_address.country].filter(Boolean).join(', ') : '—'}</dd>
            <dt>Issued</dt>
            <dd>{d.issue_date ?? '—'}</dd>
            <dt>Subtotal</dt>
            <dd>{d.subtotal !== undefined ? money(d.subtotal, cur) : '—'}</dd>
            <dt>Tax</dt>
            <dd data-testid="tax-total">{d.tax_total !== undefined && d.tax_total !== null ? money(d.tax_total, cur) : '—'}</dd>
            <dt>Total</dt>
            <dd>{d.total !== undefined ? money(d.total, cur) : '—'}</dd>
          </dl>
          <h2>Lines</h2>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Description</th>
                  <th scope="col" class="num">Quantity</th>
                  <th scope="col" class="num">Unit</th>
                  <th scope="col" class="num">Amount</th>
                  <th scope="col" class="num">Tax</th>
                  <th scope="col" class="num">Rate</th>
                </tr>
              </thead>
              <tbody>
                {d.lines.map((l: any, i: number) => (
                  <tr key={l.external_id ?? i}>
                    <td>{l.description ?? l.product_external_id ?? '—'}</td>
                    <td class="num">{l.quantity ?? '—'}</td>
                    <td class="num">{l.unit_amount !== undefined ? money(l.unit_amount, cur) : '—'}</td>
                    <td class="num">{l.amount !== undefined ? money(l.amount, cur) : '—'}</td>
                    <td class="num">{l.tax_amount !== undefined && l.tax_amount !== null ? money(l.tax_amount, cur) : '—'}</td>
                    <td class="num">{l.tax_rate !== undefined && l.tax_rate !== null ? `${l.tax_rate}` : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Tax calculation</h2>
          {job.data?.tax ? <TaxDetail tax={job.data.tax} /> : <p class="muted">No tax calculated for this document yet{jobs.data?.length ? '' : ': it is calculated when the system sends the document (webhook) and written back to it'}.</p>}
          <h2>Write-back history</h2>
          {!jobs.data ? (
            <Loading />
          ) : jobs.data.length === 0 ? (
            <p class="muted">Nothing written back yet.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Status</th>
                    <th scope="col">Trigger</th>
                    <th scope="col" class="num">Attempts</th>
                    <th scope="col">Reason or error</th>
                  </tr>
                </thead>
                <tbody>
                  {jobs.data.map((j) => (
                    <tr key={j.id} data-status={j.status}>
                      <td>{when(j.updated_at)}</td>
                      <td>
                        <Badge status={j.status} />
                      </td>
                      <td>{j.trigger ?? '—'}</td>
                      <td class="num">{j.attempts ?? 0}</td>
                      <td>{j.last_error ? `${j.last_error.code}: ${j.last_error.message}` : (j.reason ?? '—')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      ) : (
        <div class="table-wrap">
          <table>
            <tbody>
              {Object.entries<any>(d).map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td class="mono">{typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** A written-back tax: total, and per line its jurisdictions (rate, amount) and taxability reason. */
export function TaxDetail(props: { tax: any }) {
  const t = props.tax;
  return (
    <div class="card" data-testid="tax-detail">
      <p>
        Total tax <strong data-testid="calculated-tax">{money(t.total_tax, t.currency)}</strong> · calculation <span class="mono">{t.calculation_id}</span>
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Line</th>
              <th scope="col" class="num">Taxable</th>
              <th scope="col">Jurisdictions</th>
              <th scope="col" class="num">Tax</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {(t.lines ?? []).map((l: any) => (
              <tr key={l.id}>
                <td class="mono">{l.id}</td>
                <td class="num">{money(l.taxable_amount, t.currency)}</td>
                <td>
                  {(l.jurisdictions ?? []).length === 0
                    ? 'none'
                    : l.jurisdictions.map((j: any) => (
                        <div key={j.name}>
                          {j.display_name} ({j.level}) {j.rate}% = {money(j.tax_amount, t.currency)}
                        </div>
                      ))}
                </td>
                <td class="num">{money(l.tax_amount, t.currency)}</td>
                <td>{l.reason ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
