/**
 * Reading a request body ourselves (koa 3 parses nothing): bytes with a hard size limit, checked against
 * Content-Length before reading and counted while reading, so a 10 MB body is refused after at most
 * `limit` bytes are buffered. Then a JSON parse that never throws anything but a BodyError.
 */
import { isAscii } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { TaxbridgeError } from '../errors.ts';

export class BodyError extends TaxbridgeError {
  readonly status: number;
  constructor(status: number, code: 'body_too_large' | 'body_invalid' | 'unsupported_media_type' | 'body_aborted', message: string) {
    super(code, message);
    this.status = status;
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new BodyError(413, 'body_too_large', `request body is ${declared} bytes; the limit is ${limit} bytes`));
  }
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // A small body usually arrives with its headers: by the time a handler reads, the parser has buffered all
  // of it (its declared length, or the whole message). Taken in one read, without four listeners and a
  // promise of their own per request.
  const buffered = req.readableLength;
  if (buffered > 0 && !req.readableFlowing && (req.complete || (declared !== undefined && buffered === Number(declared)))) {
    const all = req.read() as Buffer | null;
    if (all !== null) {
      if (all.length > limit) return Promise.reject(new BodyError(413, 'body_too_large', `request body exceeds the limit of ${limit} bytes`));
      return Promise.resolve(all);
    }
  }
  return new Promise<Buffer>((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    let done = false;
    const fail = (e: BodyError): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.pause();
      reject(e);
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) return fail(new BodyError(413, 'body_too_large', `request body exceeds the limit of ${limit} bytes`));
      if (first === undefined) first = c;
      else (chunks ??= [first]).push(c);
    };
    req.on('data', onData);
    // The listeners go away with the request; only a failure needs to stop the data flow early.
    req.once('end', () => {
      if (done) return;
      done = true;
      resolve(chunks ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0)));
    });
    req.once('error', (e: Error) => fail(new BodyError(400, 'body_aborted', `reading the request body failed: ${e.message}`)));
    req.once('close', () => {
      if (!req.complete) fail(new BodyError(400, 'body_aborted', 'the client aborted the request body'));
    });
  });
}

/** True for application/json and any +json type (parameters such as charset allowed). */
export function isJsonContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const t = ct.split(';', 1)[0]!.trim().toLowerCase();
  return t === 'application/json' || (t.startsWith('application/') && t.endsWith('+json'));
}

/**
 * The body as JSON. A missing Content-Type is accepted (many billing systems omit it); a different one is a
 * 415. Empty bodies, bad UTF-8 and malformed JSON are 400s.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return (await readJsonBodyText(req, limit)).value;
}

/** readJsonBody, also returning the body's text as received. */
export async function readJsonBodyText(req: IncomingMessage, limit: number): Promise<{ value: unknown; text: string }> {
  const ct = req.headers['content-type'];
  if (ct !== undefined && !isJsonContentType(ct)) {
    throw new BodyError(415, 'unsupported_media_type', `Content-Type must be application/json, got ${JSON.stringify(ct.slice(0, 100))}`);
  }
  const buf = await readRawBody(req, limit);
  if (buf.length === 0) throw new BodyError(400, 'body_invalid', 'the request body is empty; send a JSON object');
  let text: string;
  // ASCII (most JSON bodies) is valid UTF-8 as it is: a one-byte copy instead of a checked decode.
  if (isAscii(buf)) text = buf.toString('latin1');
  else {
    try {
      text = UTF8.decode(buf);
    } catch {
      throw new BodyError(400, 'body_invalid', 'the request body is not valid UTF-8');
    }
  }
  try {
    return { value: JSON.parse(text), text };
  } catch (e) {
    throw new BodyError(400, 'body_invalid', `the request body is not valid JSON: ${e instanceof Error ? e.message.slice(0, 200) : 'parse error'}`);
  }
}
