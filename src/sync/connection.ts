import { TaxbridgeError } from '../errors.ts';
import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';

/**
 * The connection with setting defaults applied and typed ("3" for an integer setting becomes 3), after
 * checking that every required credential and setting is present, so a sync fails before its first
 * request with a message naming what is missing.
 */
export function prepareConnection(spec: ConnectorSpec, conn: ConnectionContext): ConnectionContext {
  const missing: string[] = [];
  for (const c of spec.credentials ?? []) {
    const v = conn.credentials[c.name];
    if ((c.required ?? true) && !c.generated && (v === undefined || v === '')) missing.push(`credential ${c.name}`);
  }
  const settings: Record<string, unknown> = { ...conn.settings };
  for (const s of spec.settings ?? []) {
    let v = settings[s.name];
    if ((v === undefined || v === '') && s.default !== undefined) v = s.default;
    if (typeof v === 'string' && s.type === 'integer' && /^-?\d+$/.test(v)) v = Number(v);
    if (typeof v === 'string' && s.type === 'boolean' && (v === 'true' || v === 'false')) v = v === 'true';
    if (v === undefined || v === '') {
      if (s.required) missing.push(`setting ${s.name}`);
      continue;
    }
    settings[s.name] = v;
  }
  if (missing.length) {
    throw new TaxbridgeError('CONNECTION_INCOMPLETE', `connection "${conn.connection_id}" to ${spec.title} is missing ${missing.join(', ')}`, {
      hint: missing.map((m) => (m.startsWith('credential') ? `--credential ${m.slice(11)}=...` : `--setting ${m.slice(8)}=...`)).join(' '),
    });
  }
  return { ...conn, settings };
}
