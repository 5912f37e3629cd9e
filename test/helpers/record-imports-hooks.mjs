// Module hooks (run off the main thread): report each resolved URL once, on fd 2.
import { writeSync } from 'node:fs';

const seen = new Set();

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.startsWith('file:') && !result.url.includes('/node_modules/') && !seen.has(result.url)) {
    seen.add(result.url);
    writeSync(2, `import: ${result.url}\n`);
  }
  return result;
}
