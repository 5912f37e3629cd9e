import { createHash } from 'node:crypto';
import { compileExpression, type Expression } from '../expressions/index.ts';
import type { WebhookAction, WebhookEventSpec, WebhooksSpec } from '../spec/types.ts';
import { WebhookPayloadError } from './errors.ts';

/** What a verified delivery means, by the spec's rules: which event, which record, what to do. */
export interface RoutedEvent {
  event_type: string;
  event_id: string;
  rule?: WebhookEventSpec;
  action: WebhookAction | 'unmatched';
  stream?: string;
  /** The raw record carried by the payload (upsert). */
  record?: unknown;
  /** The record id named by the payload (refetch, delete, payment_status). */
  id?: string;
  payment_status?: string;
  writeback: boolean;
}

export interface RoutableDelivery {
  headers: Record<string, string | undefined>;
  /** The parsed JSON body (Rillet's deleted events are a bare JSON string). */
  body: unknown;
  raw: string;
  /** With `for_each`: the event's item and its position in the delivery. */
  item?: unknown;
  index?: number;
}

interface CompiledRule {
  rule: WebhookEventSpec;
  record?: Expression;
  id?: Expression;
  paymentStatus?: Expression;
  when?: Expression;
}

interface WildcardRule {
  pattern: RegExp;
  /** Literal characters of the pattern: more means more specific. */
  literal: number;
  order: number;
  compiled: CompiledRule;
}

/** `customer.*` -> /^customer\..*$/: `*` is any run of characters (dots included); the rest is literal. */
export function wildcardPattern(name: string): RegExp {
  return new RegExp(`^${name.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
}

export interface WebhookRouter {
  route(delivery: RoutableDelivery): Promise<RoutedEvent>;
}

export function compileRouter(spec: WebhooksSpec): WebhookRouter {
  const eventType = compileExpression(spec.event_type);
  const eventId = spec.event_id ? compileExpression(spec.event_id) : undefined;
  // Exact names first, in rule order; then wildcards, most specific first. A rule's `when` may pass the
  // event on to the next candidate.
  const byName = new Map<string, CompiledRule[]>();
  const wildcards: WildcardRule[] = [];
  spec.events.forEach((rule, order) => {
    const compiled: CompiledRule = {
      rule,
      record: compileExpression(rule.record ?? (spec.for_each ? 'item' : 'body')),
      id: rule.id ? compileExpression(rule.id) : undefined,
      paymentStatus: rule.payment_status ? compileExpression(rule.payment_status) : undefined,
      when: rule.when ? compileExpression(rule.when) : undefined,
    };
    for (const name of Array.isArray(rule.on) ? rule.on : [rule.on]) {
      if (name.includes('*')) wildcards.push({ pattern: wildcardPattern(name), literal: name.replace(/\*/g, '').length, order, compiled });
      else {
        const list = byName.get(name) ?? [];
        if (!list.includes(compiled)) list.push(compiled);
        byName.set(name, list);
      }
    }
  });
  wildcards.sort((a, b) => b.literal - a.literal || a.order - b.order);
  const NONE: CompiledRule[] = [];
  const candidates = (type: string): CompiledRule[] => {
    const named = byName.get(type) ?? NONE;
    return wildcards.length === 0 ? named : [...named, ...wildcards.filter((w) => w.pattern.test(type)).map((w) => w.compiled)];
  };
  /** The value, or (when the expression needs JSONata) a promise of it: plain reads need no turn of the microtask queue. */
  const evaluate = (e: Expression, ctx: RoutableDelivery): unknown => {
    const fast = e.readSync(ctx, ctx as unknown as Record<string, unknown>);
    return fast ? fast.value : e.evaluate(ctx, ctx as unknown as Record<string, unknown>);
  };

  return {
    async route(delivery) {
      let type = evaluate(eventType, delivery);
      if (type instanceof Promise) type = await type;
      if (type === undefined || type === null || type === '') throw new WebhookPayloadError('WEBHOOK_EVENT_TYPE_MISSING', `the delivery does not name its event (\`${spec.event_type}\` is empty)`);
      const event_type = String(type);
      let idValue = eventId ? evaluate(eventId, delivery) : createHash('sha256').update(delivery.raw).digest('hex');
      if (idValue instanceof Promise) idValue = await idValue;
      if (idValue === undefined || idValue === null || idValue === '') throw new WebhookPayloadError('WEBHOOK_EVENT_ID_MISSING', `the delivery has no event id (\`${spec.event_id}\` is empty)`);
      const event_id = String(idValue);
      let c: CompiledRule | undefined;
      for (const cand of candidates(event_type)) {
        if (cand.when) {
          const ctx = { ...delivery, event_type };
          if ((await cand.when.evaluate(ctx, ctx)) !== true) continue;
        }
        c = cand;
        break;
      }
      if (!c) return { event_type, event_id, action: 'unmatched', writeback: false };
      const out: RoutedEvent = { event_type, event_id, rule: c.rule, action: c.rule.action, stream: c.rule.stream, writeback: c.rule.writeback === true };
      if (c.rule.action === 'upsert') {
        const record = evaluate(c.record!, delivery);
        out.record = record instanceof Promise ? await record : record;
        if (!out.record || typeof out.record !== 'object') throw new WebhookPayloadError('WEBHOOK_RECORD_MISSING', `event ${event_type} carries no record at \`${c.rule.record ?? 'body'}\``);
      }
      if (c.id) {
        const id = await evaluate(c.id, delivery);
        if (id === undefined || id === null || id === '' || typeof id === 'object') throw new WebhookPayloadError('WEBHOOK_RECORD_MISSING', `event ${event_type} names no record id at \`${c.rule.id}\``);
        out.id = String(id);
      }
      if (c.paymentStatus) {
        const ps = await evaluate(c.paymentStatus, delivery);
        if (ps !== undefined && ps !== null) out.payment_status = String(ps);
      }
      return out;
    },
  };
}
