/** Tax: the calculation log with filters, and a form that runs a calculation and shows the Sphere-shaped answer. */
import { useState } from 'preact/hooks';
import { ApiError, api, get } from '../api.ts';
import { href } from '../route.ts';
import { decimalToMinor, moneyMinor, when } from '../format.ts';
import { Badge, Empty, ErrorBox, Field, Loading, Select, errorFor, useLoad } from '../ui.tsx';

export function Tax() {
  const orgs = useLoad(() => get<{ data: any[] }>('/admin/organizations').then((r) => r.data), []);
  const [org, setOrg] = useState('');
  const [tick, setTick] = useState(0);
  if (orgs.error) return <ErrorBox error={orgs.error} />;
  if (!orgs.data) return <Loading />;
  if (orgs.data.length === 0) {
    return (
      <section>
        <h1>Tax</h1>
        <Empty title="No organizations yet.">
          <p>
            <a href={href('organizations')}>Create an organization</a> with its subscribed regions; its calculations appear here.
          </p>
        </Empty>
      </section>
    );
  }
  const orgId = org || orgs.data[0].id;
  return (
    <section>
      <h1>Tax</h1>
      <div class="toolbar">
        <Select label="Organization" name="tax-org" value={orgId} onChange={setOrg} options={orgs.data.map((o) => ({ value: o.id, label: `${o.name} (${o.mode})` }))} />
      </div>
      <CalculateForm orgId={orgId} onDone={() => setTick(tick + 1)} />
      <CalculationLog key={`${orgId}/${tick}`} orgId={orgId} />
    </section>
  );
}

function CalculationLog(props: { orgId: string }) {
  const [f, setF] = useState({ status: '', country: '', from: '', to: '' });
  const [applied, setApplied] = useState(f);
  const log = useLoad(() => get<{ data: any[]; total: number }>(`/admin/organizations/${props.orgId}/calculations`, { ...applied, limit: 50 }), [props.orgId, JSON.stringify(applied)]);
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const fe = (p: string) => errorFor(log.error, p);
  return (
    <>
      <h2>Calculation log</h2>
      <form class="toolbar" aria-label="Filter calculations" onSubmit={(e) => (e.preventDefault(), setApplied({ ...f, country: f.country.trim().toUpperCase() }))}>
        <Select label="Status" name="status" value={f.status} onChange={set('status')} options={[{ value: '', label: 'Any' }, ...['calculated', 'committed', 'voided', 'refunded'].map((s) => ({ value: s, label: s }))]} error={fe('status')} />
        <Field label="Customer country" name="log-country" value={f.country} onInput={set('country')} placeholder="US" error={fe('country')} />
        <Field label="From" name="from" type="date" value={f.from} onInput={set('from')} error={fe('from')} />
        <Field label="To" name="to" type="date" value={f.to} onInput={set('to')} error={fe('to')} />
        <button type="submit">Filter</button>
      </form>
      {log.error ? (
        <ErrorBox error={log.error} fields={['status', 'country', 'from', 'to']} />
      ) : !log.data ? (
        <Loading />
      ) : log.data.data.length === 0 ? (
        <Empty title="No calculations match.">
          <p>Calculations appear when a billing system calls the tax API with this organization's key, when tax is written back to an invoice, or when you run one above.</p>
        </Empty>
      ) : (
        <>
          <p class="muted">
            {log.data.total} calculation{log.data.total === 1 ? '' : 's'}
            {log.data.total > log.data.data.length ? `, newest ${log.data.data.length} shown` : ''}
          </p>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Created</th>
                  <th scope="col">Calculation</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Status</th>
                  <th scope="col">Customer in</th>
                  <th scope="col" class="num">Lines</th>
                  <th scope="col" class="num">Tax</th>
                  <th scope="col">By</th>
                </tr>
              </thead>
              <tbody>
                {log.data.data.map((c) => (
                  <tr key={c.id} data-calculation={c.id}>
                    <td>{when(c.created_at)}</td>
                    <td class="mono">{c.id}</td>
                    <td>{c.kind.replace('_', ' ')}</td>
                    <td>
                      <Badge status={c.status} />
                    </td>
                    <td>{[c.customer_state, c.customer_country].filter(Boolean).join(', ') || '—'}</td>
                    <td class="num">{c.line_count}</td>
                    <td class="num">{moneyMinor(c.tax_total, c.currency)}</td>
                    <td class="mono">{c.api_key_id}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}

interface LineInput {
  amount: string;
  product_id: string;
}

function CalculateForm(props: { orgId: string; onDone: () => void }) {
  const [f, setF] = useState({ currency: 'USD', address1: '', city: '', state: '', postal_code: '', country: 'US', tax_id: '' });
  const [lines, setLines] = useState<LineInput[]>([{ amount: '100.00', product_id: 'platform' }]);
  const [error, setError] = useState<unknown>();
  const [answer, setAnswer] = useState<any>();
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const setLine = (i: number, k: keyof LineInput) => (v: string) => setLines(lines.map((l, j) => (j === i ? { ...l, [k]: v } : l)));
  const currency = f.currency.trim().toUpperCase() || 'USD';
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setAnswer(undefined);
    const items: Array<Record<string, unknown>> = [];
    for (const [i, l] of lines.entries()) {
      const minor = decimalToMinor(l.amount, currency);
      if (minor === undefined) {
        setError(new ApiError(400, { code: 'validation_errors', message: `enter an amount like 100.00 (at most the decimals ${currency} has)`, param: `line_items[${i}].amount` }));
        return;
      }
      items.push({ id: `line_${i + 1}`, amount: Number(minor), product_id: l.product_id.trim() });
    }
    const address = Object.fromEntries(Object.entries({ address1: f.address1, city: f.city, state: f.state, postal_code: f.postal_code, country: f.country }).filter(([, v]) => v.trim()).map(([k, v]) => [k, v.trim()]));
    try {
      const r = await api('POST', `/admin/organizations/${props.orgId}/calculate`, { currency: currency.toLowerCase(), customer_address: address, include_taxability_reason: true, line_items: items, ...(f.tax_id.trim() ? { tax_id: f.tax_id.trim() } : {}) });
      setAnswer(r);
      props.onDone();
    } catch (err) {
      setError(err);
    }
  };
  const fe = (p: string) => errorFor(error, p) ?? errorFor(error, `customer_address.${p}`);
  const fields = ['currency', 'tax_id', ...['address1', 'city', 'state', 'postal_code', 'country'].flatMap((p) => [p, `customer_address.${p}`]), ...lines.flatMap((_, i) => [`line_items[${i}].amount`, `line_items[${i}].product_id`])];
  return (
    <>
      <form class="card" aria-label="Calculate tax" onSubmit={submit}>
        <h2>Calculate tax</h2>
        <div class="grid4">
          <Field label="Currency" name="currency" value={f.currency} onInput={set('currency')} required error={fe('currency')} />
          <Field label="Customer tax id" name="tax_id" value={f.tax_id} onInput={set('tax_id')} hint="Optional VAT/GST id" error={fe('tax_id')} />
        </div>
        <fieldset>
          <legend>Customer address</legend>
          <div class="grid4">
            <Field label="Street" name="address1" value={f.address1} onInput={set('address1')} error={fe('address1')} />
            <Field label="City" name="calc-city" value={f.city} onInput={set('city')} error={fe('city')} />
            <Field label="State" name="calc-state" value={f.state} onInput={set('state')} error={fe('state')} />
            <Field label="Postal code" name="calc-postal" value={f.postal_code} onInput={set('postal_code')} error={fe('postal_code')} />
            <Field label="Country" name="calc-country" value={f.country} onInput={set('country')} error={fe('country')} />
          </div>
        </fieldset>
        <fieldset>
          <legend>Lines</legend>
          {lines.map((l, i) => (
            <div class="grid4" key={i}>
              <Field label={`Line ${i + 1} amount (${currency})`} name={`amount-${i}`} value={l.amount} onInput={setLine(i, 'amount')} required error={errorFor(error, `line_items[${i}].amount`)} />
              <Field label={`Line ${i + 1} product id`} name={`product-${i}`} value={l.product_id} onInput={setLine(i, 'product_id')} required hint="The product's id in the billing system: its tax code (or the organization's default) applies" error={errorFor(error, `line_items[${i}].product_id`)} />
            </div>
          ))}
          <div class="row">
            <button type="button" class="secondary" onClick={() => setLines([...lines, { amount: '', product_id: lines[lines.length - 1]?.product_id ?? '' }])}>
              Add a line
            </button>
            {lines.length > 1 ? (
              <button type="button" class="secondary" onClick={() => setLines(lines.slice(0, -1))}>
                Remove the last line
              </button>
            ) : null}
          </div>
        </fieldset>
        <ErrorBox error={error} fields={fields} />
        <button type="submit">Calculate</button>
      </form>
      {answer ? <Answer answer={answer} currency={currency} /> : null}
    </>
  );
}

function Answer(props: { answer: any; currency: string }) {
  const d = props.answer.data ?? {};
  return (
    <div class="card" data-testid="calculation-answer" role="status">
      <h3>Answer</h3>
      <p>
        Calculation <span class="mono">{d.sphere_tax_calculation_id ?? d.id}</span>
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Line</th>
              <th scope="col">Taxes</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {(d.lines ?? []).map((l: any) => (
              <tr key={l.id}>
                <td class="mono">{l.id}</td>
                <td>
                  {(l.tax_amounts ?? []).length === 0
                    ? 'no tax'
                    : l.tax_amounts.map((t: any, i: number) => (
                        <div key={i}>
                          {t.tax_rate?.display_name ?? 'tax'} {t.tax_rate?.percentage}% on {moneyMinor(t.taxable_amount, props.currency)} = {moneyMinor(t.amount, props.currency)}
                        </div>
                      ))}
                </td>
                <td>{l.taxability_reason ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <details>
        <summary>The answer as JSON (Sphere-shaped)</summary>
        <pre class="json">{JSON.stringify(props.answer, null, 2)}</pre>
      </details>
    </div>
  );
}
