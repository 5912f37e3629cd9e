/** Intuit's error envelopes for the fake QuickBooks Online API: validation, auth and throttling faults. */
import { qboTime } from './quickbooks-data.ts';

export interface FaultError {
  Message: string;
  Detail: string;
  code: string;
  element?: string;
}

/** An error in Intuit's envelope; `lowercase` for the gateway's auth faults (`{"fault":{"error":[...]}}`). */
export class QboFault extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly errors: FaultError[],
    readonly lowercase = false,
    readonly headers?: Record<string, string>,
  ) {
    super(errors[0]?.Detail ?? errors[0]?.Message ?? 'fault');
    this.name = 'QboFault';
  }
}

export const validation = (code: string, message: string, detail: string, element = ''): QboFault =>
  new QboFault(400, 'ValidationFault', [{ Message: message, Detail: detail, code, element }]);
export const notFound = (entity: string, id: string): QboFault =>
  validation('610', 'Object Not Found', `Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees. (${entity} ${id} does not exist in this company)`);
export const missing = (element: string, what = element): QboFault =>
  validation('2020', 'Required param missing, need to supply the required value for the API', `Required parameter ${what} is missing in the request`, element);
export const invalid = (element: string, detail: string): QboFault =>
  validation('2010', 'Request has invalid or unsupported property', `Property Name:${element} ${detail}`, element);
export const badRef = (element: string, id: unknown): QboFault =>
  validation('2500', 'Invalid Reference Id', `Invalid Reference Id : ${element} ${JSON.stringify(id)} does not exist`, element);
export const business = (detail: string, element = ''): QboFault => validation('6000', 'A business validation error has occurred while processing your request', `Business Validation Error: ${detail}`, element);

export function authFault(detail: string): QboFault {
  return new QboFault(401, 'AUTHENTICATION', [{ Message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401', Detail: detail, code: '3200' }], true, {
    'WWW-Authenticate': 'Bearer realm="Intuit", error="invalid_token"',
  });
}

export function forbidden(detail: string): QboFault {
  return new QboFault(403, 'SERVICE', [{ Message: 'message=AuthorizationFailed; errorCode=003100; statusCode=403', Detail: detail, code: '3100' }], true);
}

export const throttled = (): QboFault =>
  new QboFault(429, 'SERVICE', [{ Message: 'message=ThrottleExceeded; errorCode=003001; statusCode=429', Detail: 'The request limit was reached.  Try again later', code: '3001' }]);

export function faultBody(f: QboFault): unknown {
  if (f.lowercase) {
    return { fault: { error: f.errors.map((e) => ({ message: e.Message, detail: e.Detail, code: e.code, element: e.element ?? null })), type: f.type }, time: Date.now() };
  }
  return { Fault: { Error: f.errors.map((e) => ({ ...e, element: e.element ?? '' })), type: f.type }, time: qboTime(Date.now(), '-08:00') };
}
