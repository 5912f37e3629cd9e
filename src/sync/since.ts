import type { RequestSpec } from '../spec/types.ts';

/** Whether a request's templates read `incremental.since` (the cursor is then sent by the request itself). */
export function requestUsesSince(req: RequestSpec): boolean {
  return /\bincremental\s*\.\s*since/.test(JSON.stringify([req.path, req.query ?? null, req.headers ?? null, req.body ?? null]));
}
