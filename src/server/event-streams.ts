/**
 * Server-sent event streams of the admin API (text/event-stream), e.g. a connection's live status: the
 * route authenticates as every admin route does (on its router), then hands the request here.
 *
 * - Each stream polls its source on the server (`intervalMs`, shorter while something runs) and sends an
 *   `event: status` only when the answer changed, so a browser page costs one stream instead of a request
 *   per second.
 * - Bounded: at most `maxPerOwner` open streams per console session (or for the bearer token together) and
 *   `maxTotal` in all; the next one is answered 429 `too_many_streams`.
 * - A comment line every `heartbeatMs` keeps proxies from closing an idle stream; at each heartbeat a
 *   console session's stream checks the session still lives. Sign-out (on any replica) ends that session's
 *   streams at once with `event: signed_out`; a server shutdown ends every stream.
 */
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { sendJson } from './http-errors.ts';

export interface EventStreamsOptions {
  /** Streams one owner (a console session, or the bearer token) may hold open. Default 4. */
  maxPerOwner?: number;
  /** Streams in all. Default 100. */
  maxTotal?: number;
  /** Default 15 s. */
  heartbeatMs?: number;
  /** False once a console session (by its store key) has ended or expired. */
  sessionAlive?: (key: string) => Promise<boolean>;
}

export interface StreamSource {
  /** `session:<key>` for a console session, `bearer` for the admin token. */
  owner: string;
  /** The current state; its JSON is sent when it differs from the last sent. */
  read(): Promise<unknown>;
  /** Time until the next read, given the last state. */
  intervalMs(state: unknown): number;
}

interface OpenStream {
  owner: string;
  end(event?: { name: string; data: unknown }): void;
}

export class EventStreams {
  private readonly open = new Set<OpenStream>();
  private readonly maxPerOwner: number;
  private readonly maxTotal: number;
  private readonly heartbeatMs: number;

  constructor(private readonly opts: EventStreamsOptions = {}) {
    this.maxPerOwner = opts.maxPerOwner ?? 4;
    this.maxTotal = opts.maxTotal ?? 100;
    this.heartbeatMs = opts.heartbeatMs ?? 15_000;
  }

  get size(): number {
    return this.open.size;
  }

  /** Answers the request with a stream of `source` (first state already read), or 429 when over a bound. */
  serve(ctx: Context, source: StreamSource, first: unknown): void {
    const mine = [...this.open].filter((s) => s.owner === source.owner).length;
    if (mine >= this.maxPerOwner || this.open.size >= this.maxTotal) {
      ctx.set('Retry-After', '10');
      const message = mine >= this.maxPerOwner ? `at most ${this.maxPerOwner} event streams per console session (or for the admin token) are open at once; close one (another tab) first` : 'too many event streams are open on this server; retry shortly';
      return sendJson(ctx, 429, { type: 'api_error', code: 'too_many_streams', message });
    }
    if (ctx.method === 'HEAD') {
      // The headers a GET would get, and no stream held open for a request that reads no body.
      ctx.status = 200;
      ctx.type = 'text/event-stream; charset=utf-8';
      ctx.set('Cache-Control', 'no-store');
      return;
    }
    const out = new PassThrough();
    let seq = 0;
    let last = '';
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    const write = (text: string) => {
      if (!ended) out.write(text);
    };
    const send = (name: string, data: unknown) => write(`id: ${++seq}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    const stream: OpenStream = {
      owner: source.owner,
      end: (event) => {
        if (ended) return;
        if (event) send(event.name, event.data);
        ended = true;
        clearTimeout(timer);
        clearInterval(heartbeat);
        this.open.delete(stream);
        out.end();
      },
    };
    const push = (state: unknown) => {
      const text = JSON.stringify(state);
      if (text !== last) {
        last = text;
        send('status', state);
      }
      timer = setTimeout(tick, source.intervalMs(state));
    };
    const tick = () => {
      if (ended) return;
      source.read().then(push, (e: unknown) => {
        const code = typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'internal_error';
        stream.end({ name: 'error', data: { code, message: code === 'not_found' ? 'the connection is gone' : 'the status could not be read; the page falls back to polling' } });
      });
    };
    const sessionKey = source.owner.startsWith('session:') ? source.owner.slice('session:'.length) : undefined;
    const heartbeat = setInterval(() => {
      write(`: ${new Date().toISOString()}\n\n`);
      if (sessionKey && this.opts.sessionAlive) {
        this.opts.sessionAlive(sessionKey).then(
          (alive) => alive || stream.end({ name: 'signed_out', data: { message: 'the console session ended' } }),
          () => undefined,
        );
      }
    }, this.heartbeatMs);
    this.open.add(stream);
    ctx.res.on('close', () => stream.end());
    out.on('error', () => stream.end());

    ctx.status = 200;
    ctx.type = 'text/event-stream; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = out;
    write('retry: 3000\n\n');
    push(first);
  }

  /** Ends the streams of one console session (signed out here or on another replica). */
  endSession(key: string): void {
    for (const s of [...this.open]) if (s.owner === `session:${key}`) s.end({ name: 'signed_out', data: { message: 'the console session ended' } });
  }

  /** Ends every stream (shutdown). */
  closeAll(): void {
    for (const s of [...this.open]) s.end({ name: 'closing', data: { message: 'the server is shutting down' } });
  }
}
