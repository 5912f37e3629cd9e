/** Organizations: test and live, origin address, default tax code, subscribed regions with their Tax calculations switch, product tax codes, tax API keys. */
import { useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { href, go } from '../route.ts';
import { when } from '../format.ts';
import { Badge, CopyValue, Empty, ErrorBox, Field, Loading, Select, errorFor, useLoad } from '../ui.tsx';

const TAX_CODES = [
  { value: 'saas', label: 'SaaS (saas)' },
  { value: 'general', label: 'Tangible goods (general)' },
  { value: 'services_nontaxable', label: 'Non-taxable services (services_nontaxable)' },
  { value: 'exempt', label: 'Exempt (exempt)' },
];

function addressText(a: any): string {
  if (!a) return '—';
  return [a.line1, a.city, a.state, a.postal_code, a.country].filter(Boolean).join(', ');
}

export function Organizations() {
  const orgs = useLoad(() => get<{ data: any[] }>('/admin/organizations').then((r) => r.data), []);
  if (orgs.error) return <ErrorBox error={orgs.error} />;
  if (!orgs.data) return <Loading />;
  return (
    <section>
      <h1>Organizations</h1>
      {orgs.data.length === 0 ? (
        <Empty title="No organizations yet.">
          <p>Create a test organization to connect sandboxes, and a live one for production systems.</p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Mode</th>
                <th scope="col">Origin</th>
                <th scope="col">Subscribed regions</th>
              </tr>
            </thead>
            <tbody>
              {orgs.data.map((o) => (
                <tr key={o.id}>
                  <td>
                    <a href={href('organizations', o.id)}>{o.name}</a>
                  </td>
                  <td>
                    <Badge status={o.mode} />
                  </td>
                  <td>{addressText(o.origin_address)}</td>
                  <td>{o.registrations.map((r: any) => (r.state ? `${r.country}-${r.state}` : r.country)).join(', ') || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateOrganization onCreated={(o) => go('organizations', o.id)} />
    </section>
  );
}

function CreateOrganization(props: { onCreated: (o: any) => void }) {
  const [f, setF] = useState({ name: '', mode: 'test', line1: '', city: '', state: '', postal_code: '', country: 'US', code: 'saas' });
  const [error, setError] = useState<unknown>();
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const address = Object.fromEntries(Object.entries({ line1: f.line1, city: f.city, state: f.state, postal_code: f.postal_code, country: f.country }).filter(([, v]) => v.trim()).map(([k, v]) => [k, v.trim()]));
      const r = await api('POST', '/admin/organizations', { name: f.name.trim(), mode: f.mode, default_product_tax_code: f.code, ...(Object.keys(address).length ? { origin_address: address } : {}) });
      props.onCreated(r.data);
    } catch (err) {
      setError(err);
    }
  };
  const fe = (p: string) => errorFor(error, p) ?? errorFor(error, `origin_address.${p}`);
  return (
    <form class="card" onSubmit={submit} aria-label="Create an organization">
      <h2>Create an organization</h2>
      <div class="grid2">
        <Field label="Name" name="name" value={f.name} onInput={set('name')} required error={fe('name')} />
        <Select label="Mode" name="mode" value={f.mode} onChange={set('mode')} options={[{ value: 'test', label: 'Test (sandbox connections, tb_test_ keys)' }, { value: 'live', label: 'Live (production connections)' }]} error={fe('mode')} />
      </div>
      <fieldset>
        <legend>Origin address (where you sell from)</legend>
        <div class="grid2">
          <Field label="Street" name="line1" value={f.line1} onInput={set('line1')} error={fe('line1')} />
          <Field label="City" name="city" value={f.city} onInput={set('city')} error={fe('city')} />
          <Field label="State or province" name="state" value={f.state} onInput={set('state')} hint="Two letters, e.g. TX" error={fe('state')} />
          <Field label="Postal code" name="postal_code" value={f.postal_code} onInput={set('postal_code')} error={fe('postal_code')} />
          <Field label="Country" name="country" value={f.country} onInput={set('country')} hint="Two letters, e.g. US, DE" error={fe('country')} />
        </div>
      </fieldset>
      <Select label="Default product tax code" name="default_product_tax_code" value={f.code} onChange={set('code')} options={TAX_CODES} error={fe('default_product_tax_code')} />
      <ErrorBox error={error} fields={['name', 'mode', 'line1', 'city', 'state', 'postal_code', 'country', 'default_product_tax_code'].flatMap((p) => [p, `origin_address.${p}`])} />
      <button type="submit" disabled={!f.name.trim()}>
        Create organization
      </button>
    </form>
  );
}

export function Organization(props: { id: string }) {
  const org = useLoad(() => get<{ data: any }>(`/admin/organizations/${props.id}`).then((r) => r.data), [props.id]);
  const keys = useLoad(() => get<{ data: any[] }>(`/admin/organizations/${props.id}/keys`).then((r) => r.data), [props.id]);
  const [error, setError] = useState<unknown>();
  if (org.error) return <ErrorBox error={org.error} />;
  const o = org.data;
  if (!o) return <Loading />;
  const run = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      org.reload();
      keys.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section>
      <p class="crumbs">
        <a href={href('organizations')}>Organizations</a> / {o.name}
      </p>
      <h1>
        {o.name} <Badge status={o.mode} />
      </h1>
      <dl class="facts">
        <dt>Id</dt>
        <dd class="mono">{o.id}</dd>
        <dt>Origin address</dt>
        <dd>{addressText(o.origin_address)}</dd>
        <dt>Default product tax code</dt>
        <dd>{o.default_product_tax_code ?? '—'}</dd>
      </dl>
      <ErrorBox error={error} />
      <h2 id="regions">Subscribed regions</h2>
      {o.registrations.length === 0 ? (
        <Empty title="No subscribed regions: no tax is charged anywhere yet.">
          <p>Add each state or country where you are registered to collect tax.</p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table aria-labelledby="regions">
            <thead>
              <tr>
                <th scope="col">Region</th>
                <th scope="col">Tax calculations</th>
                <th scope="col">Effective from</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {o.registrations.map((r: any) => {
                const name = r.state ? `${r.country}-${r.state}` : r.country;
                return (
                  <tr key={r.id} data-region={name}>
                    <th scope="row">{name}</th>
                    <td>
                      <button type="button" role="switch" class={`switch ${r.tax_calculation ? 'on' : 'off'}`} aria-checked={r.tax_calculation} aria-label={`Tax calculations in ${name}`} onClick={() => run(() => api('PATCH', `/admin/organizations/${o.id}/registrations/${r.id}`, { tax_calculation: !r.tax_calculation }))}>
                        {r.tax_calculation ? 'Yes' : 'No'}
                      </button>
                    </td>
                    <td>{r.effective_from}</td>
                    <td>
                      <button type="button" class="secondary" aria-label={`Remove ${name}`} onClick={() => run(() => api('DELETE', `/admin/organizations/${o.id}/registrations/${r.id}`))}>
                        Remove
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <AddRegion orgId={o.id} onAdded={() => org.reload()} />
      <ProductCodes org={o} onChanged={() => org.reload()} />
      <Keys orgId={o.id} keys={keys.data} onChanged={() => keys.reload()} />
    </section>
  );
}

function AddRegion(props: { orgId: string; onAdded: () => void }) {
  const [f, setF] = useState({ country: '', state: '', effective_from: new Date().toISOString().slice(0, 10), tax: 'yes' });
  const [error, setError] = useState<unknown>();
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      await api('POST', `/admin/organizations/${props.orgId}/registrations`, { country: f.country.trim().toUpperCase(), ...(f.state.trim() ? { state: f.state.trim().toUpperCase() } : {}), tax_calculation: f.tax === 'yes', effective_from: f.effective_from });
      setF({ ...f, country: '', state: '' });
      props.onAdded();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Add a subscribed region">
      <h3>Add a subscribed region</h3>
      <div class="grid4">
        <Field label="Country" name="country" value={f.country} onInput={set('country')} required hint="US, CA, DE, GB, EU…" error={errorFor(error, 'country')} />
        <Field label="State or province" name="state" value={f.state} onInput={set('state')} hint="Required for US" error={errorFor(error, 'state')} />
        <Field label="Effective from" name="effective_from" type="date" value={f.effective_from} onInput={set('effective_from')} error={errorFor(error, 'effective_from')} />
        <Select label="Tax calculations" name="tax_calculation" value={f.tax} onChange={set('tax')} options={[{ value: 'yes', label: 'Yes' }, { value: 'no', label: 'No' }]} />
      </div>
      <ErrorBox error={error} fields={['country', 'state', 'effective_from']} />
      <button type="submit" disabled={!f.country.trim()}>
        Add region
      </button>
    </form>
  );
}

function ProductCodes(props: { org: any; onChanged: () => void }) {
  const [product, setProduct] = useState('');
  const [code, setCode] = useState('saas');
  const [error, setError] = useState<unknown>();
  const run = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      props.onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const o = props.org;
  return (
    <>
      <h2>Product tax codes</h2>
      {o.product_tax_codes.length === 0 ? (
        <p class="muted">Every product uses the default code ({o.default_product_tax_code ?? 'saas'}).</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Tax code</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {o.product_tax_codes.map((p: any) => (
                <tr key={`${p.connection_id ?? ''}/${p.product_id}`}>
                  <td class="mono">{p.product_id}</td>
                  <td>{p.tax_code}</td>
                  <td>
                    <button type="button" class="secondary" aria-label={`Remove the code of ${p.product_id}`} onClick={() => run(() => api('DELETE', `/admin/organizations/${o.id}/product_tax_codes?product_id=${encodeURIComponent(p.product_id)}${p.connection_id ? `&connection_id=${encodeURIComponent(p.connection_id)}` : ''}`))}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="card" aria-label="Set a product tax code" onSubmit={(e) => (e.preventDefault(), run(() => api('POST', `/admin/organizations/${o.id}/product_tax_codes`, { product_id: product.trim(), tax_code: code }).then(() => setProduct(''))))}>
        <div class="grid2">
          <Field label="Product id" name="product_id" value={product} onInput={setProduct} required hint="The product's id in the billing system" error={errorFor(error, 'product_id')} />
          <Select label="Tax code" name="tax_code" value={code} onChange={setCode} options={TAX_CODES} error={errorFor(error, 'tax_code')} />
        </div>
        <ErrorBox error={error} fields={['product_id', 'tax_code']} />
        <button type="submit" disabled={!product.trim()}>
          Set tax code
        </button>
      </form>
    </>
  );
}

function Keys(props: { orgId: string; keys?: any[]; onChanged: () => void }) {
  const [name, setName] = useState('');
  const [created, setCreated] = useState<string>();
  const [error, setError] = useState<unknown>();
  return (
    <>
      <h2>Tax API keys</h2>
      {created ? (
        <div class="once" role="status">
          <p>
            <strong>The new key, shown only now.</strong> Store it where the billing system keeps its tax API key.
          </p>
          <CopyValue label="New tax API key" name="new-api-key" value={created} />
        </div>
      ) : null}
      {!props.keys ? (
        <Loading />
      ) : props.keys.length === 0 ? (
        <p class="muted">No keys. Connecting a billing system that calls the tax API makes one; or create one below.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {props.keys.map((k) => (
                <tr key={k.id}>
                  <td class="mono">{k.prefix}…</td>
                  <td>{k.name ?? '—'}</td>
                  <td>{when(k.created_at)}</td>
                  <td>{when(k.last_used_at)}</td>
                  <td>
                    {k.revoked_at ? (
                      `revoked ${when(k.revoked_at)}`
                    ) : (
                      <button type="button" class="danger" aria-label={`Revoke ${k.prefix}`} onClick={async () => {
                        setError(undefined);
                        try {
                          await api('DELETE', `/admin/keys/${k.id}`);
                          props.onChanged();
                        } catch (e) {
                          setError(e);
                        }
                      }}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="card" aria-label="Create a tax API key" onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        try {
          const r = await api('POST', `/admin/organizations/${props.orgId}/keys`, name.trim() ? { name: name.trim() } : {});
          setCreated(r.data.key);
          setName('');
          props.onChanged();
        } catch (err) {
          setError(err);
        }
      }}>
        <Field label="Key name" name="key_name" value={name} onInput={setName} hint="Optional, e.g. the system that will use it" error={errorFor(error, 'name')} />
        <ErrorBox error={error} fields={['name']} />
        <button type="submit">Create key</button>
      </form>
    </>
  );
}
