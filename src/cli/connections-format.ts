/** How the connection commands print connections, connect results and a connection's status. */
import type { ConnectResult } from '../connections/service.ts';
import type { ConnectionStatusReport } from '../connections/status.ts';
import type { ConnectionView } from '../connections/view.ts';

export function formatConnectResult(r: ConnectResult, opts: { command?: string } = {}): string {
  const c = r.connection;
  const lines: string[] = [];
  lines.push(`${c.connector_title ?? c.connector} (${c.environment}) for organization ${c.organization_id}: ${c.id} [${c.status}]`);
  for (const m of r.messages) if (!m.startsWith('Tax API key')) lines.push(`  ${m}`);
  if (r.tax_api_key) {
    lines.push('', `  Tax API key for ${c.connector_title ?? c.connector} (shown once; only its hash is stored):`, `    ${r.tax_api_key}`);
    lines.push(`  Paste it into ${c.connector_title ?? c.connector}'s tax integration and click "Test credentials".`);
  }
  for (const [setting, choices] of Object.entries(r.choices ?? {})) {
    lines.push('', `  Choices for ${setting}:`);
    const w = Math.max(...choices.map((x) => String(x.value).length), 5);
    for (const ch of choices) lines.push(`    ${String(ch.value).padEnd(w)}  ${ch.label}`);
    if (opts.command) lines.push('', `  Then: ${opts.command} --setting ${setting}=<value>`);
  }
  if (r.webhook_url) lines.push('', `  Webhook URL: ${r.webhook_url}`);
  if (c.next_step?.step === 'webhook_secret' && opts.command) lines.push(`  Then: ${opts.command} --credential ${c.next_step.credential}=-   (paste the value from ${c.connector_title ?? c.connector}, then Ctrl-D; or =@file)`);
  return lines.join('\n') + '\n';
}

/** One line per connection: what it is, where it stands, and what its syncs, webhooks and write-backs did. */
export function formatConnectionList(list: Array<ConnectionView & { sync: ConnectionStatusReport['streams'] } & Pick<ConnectionStatusReport, 'webhooks' | 'writebacks'>>): string {
  if (!list.length) return 'No connections. Make one with `taxbridge connect <connector> --org <organization id> ...`.\n';
  const rows = list.map((c) => {
    const streams = Object.values(c.sync ?? {});
    const records = streams.reduce((n, s) => n + s.counts.active, 0);
    const runs = streams.map((s) => s.last_sync).filter((r) => r !== undefined);
    const last = runs.sort((a, b) => ((a.finished_at ?? a.started_at ?? '') < (b.finished_at ?? b.started_at ?? '') ? 1 : -1))[0];
    const failedStreams = runs.filter((r) => r.status === 'failed').length;
    const lastSync = streams.some((s) => s.running) ? 'running' : last ? `${when(last.finished_at ?? last.started_at)}${failedStreams ? ` (${failedStreams} failed)` : ''}` : 'never';
    const w = c.webhooks;
    const b = c.writebacks;
    return [
      c.id,
      c.connector,
      c.environment,
      c.status + (c.next_step ? ` (${c.next_step.step})` : ''),
      c.organization_id,
      lastSync,
      String(records),
      w ? `${w.received}${w.failed ? ` (${w.failed} failed)` : ''}` : '-',
      b ? `${b.applied}${b.pending || b.dead ? ` (${b.pending} pending, ${b.dead} dead)` : ''}` : '-',
    ];
  });
  const head = ['ID', 'CONNECTOR', 'ENV', 'STATUS', 'ORGANIZATION', 'LAST SYNC', 'RECORDS', 'WEBHOOKS', 'WRITE-BACKS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}

const when = (iso: string | undefined) => (iso ? iso.slice(0, 19).replace('T', ' ') : '-');

export function formatStatus(c: ConnectionView, st: Pick<ConnectionStatusReport, 'streams' | 'webhooks' | 'writebacks' | 'errors'>): string {
  const lines: string[] = [];
  lines.push(`${c.id}  ${c.connector_title ?? c.connector} (${c.environment})  [${c.status}]  organization ${c.organization_id}`);
  if (c.next_step) lines.push(`  waiting for: ${c.next_step.step}${'setting' in c.next_step ? ` ${c.next_step.setting}` : ''}${'credential' in c.next_step ? ` ${c.next_step.credential}` : ''}`);
  if (c.webhook_url) lines.push(`  webhook URL: ${c.webhook_url}`);
  if (c.next_step?.step === 'authorize') lines.push(c.next_step.authorization_url ? `  authorize at: ${c.next_step.authorization_url} (until ${c.next_step.expires_at})` : `  authorize again: taxbridge connect --connection ${c.id} --reauthorize`);
  if (c.authorization) lines.push(`  authorized: ${c.authorization.authorized_at}${c.authorization.expires_at ? `; access token expires ${c.authorization.expires_at} (refreshed before)` : ''}${c.authorization.refreshed_at ? `; last refresh ${c.authorization.refreshed_at}` : ''}${c.authorization.refresh_token ? '' : '; no refresh token'}`);
  if (c.backfill) lines.push(`  backfill: ${c.backfill.status}${c.backfill.finished_at ? ` (${c.backfill.finished_at})` : ''}`);
  lines.push('  streams:');
  for (const [name, s] of Object.entries(st.streams)) {
    const last = s.last_sync ? `${s.last_sync.status} ${s.last_sync.finished_at ?? ''} (+${s.last_sync.created ?? 0} ~${s.last_sync.updated ?? 0} !${s.last_sync.failed ?? 0})` : 'never synced';
    lines.push(`    ${name.padEnd(14)} ${String(s.counts.active).padStart(7)} stored${s.counts.deleted ? `, ${s.counts.deleted} deleted` : ''}   last sync: ${last}${s.running ? '  [running]' : ''}`);
    for (const sch of s.schedules ?? (s.schedule ? [s.schedule] : [])) lines.push(`      schedule ${sch.cron}${sch.mode ? ` (${sch.mode})` : ''}, next run ${sch.next_run ?? 'none'}`);
  }
  const w = st.webhooks;
  lines.push(`  webhooks: ${w.mode}${w.skipped ? ' (skipped)' : ''}; ${w.received} received, ${w.pending} pending, ${w.failed} failed${w.last ? `; last ${w.last.event_type} at ${w.last.received_at} (${w.last.status})` : ''}`);
  const b = st.writebacks;
  lines.push(`  write-backs: ${b.applied} applied, ${b.pending} pending, ${b.dead} dead, ${b.no_tax} without tax`);
  if (st.errors.length) {
    lines.push('  recent errors:');
    for (const e of st.errors.slice(0, 5)) lines.push(`    ${e.at} ${e.source} ${e.code}: ${e.message}`);
  }
  return lines.join('\n') + '\n';
}
