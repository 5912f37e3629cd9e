export { createHttpClient, baseUrlOf, connectionContext, type HttpClient, type HttpClientOptions, type RequestOptions, type PaginateOptions } from './client.ts';
export { type HttpResponse } from './response.ts';
export { type Page, type PageState, evaluateRecords, linkHeaderTarget } from './pagination.ts';
export { HttpError, BadCredentialsError, TransientHttpError, PermanentHttpError, HttpTimeoutError, InvalidResponseError, PaginationError, CrossOriginPageError, type RequestTarget } from './errors.ts';
export { encodeBody, formEncode, formPairs, formDecode, formFields, CONTENT_TYPES, BodyEncodingError, type BodyEncoding, type FormStyle } from './body.ts';
export { parseRetryAfter, backoffDelay, retryPolicy, type RetryPolicy } from './retry.ts';
export { ConnectionBudget, type Sleep } from './budget.ts';
export { derivedIdempotencyKey } from './render.ts';
