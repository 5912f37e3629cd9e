import type { HttpClient } from '../http/index.ts';
import { evaluate, type CompiledStream } from './compile.ts';
import { mapConcurrent } from './concurrency.ts';

/**
 * Completes records with their child requests (e.g. Sequence invoice line items), attaching each child's
 * records under its `name`. Requests for one page run concurrently, bounded by the connection's
 * max_concurrency (the HTTP client enforces the same bound across everything else in flight).
 */
export async function attachChildren(c: CompiledStream, records: Array<Record<string, unknown>>, client: HttpClient, signal?: AbortSignal): Promise<void> {
  if (!c.children.length || !records.length) return;
  const tasks: Array<{ record: Record<string, unknown>; child: CompiledStream['children'][number] }> = [];
  for (const record of records) {
    for (const child of c.children) {
      if (child.when && (await evaluate(child.when, record)) !== true) continue;
      tasks.push({ record, child });
    }
  }
  const limit = client.spec.http?.max_concurrency ?? 4;
  await mapConcurrent(tasks, limit, async ({ record, child }) => {
    const found: unknown[] = [];
    for await (const page of client.paginate(child.spec.request, child.spec.pagination, child.spec.records, { parent: record }, { signal })) found.push(...page.records);
    record[child.spec.name] = found;
  });
}
