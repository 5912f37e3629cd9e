// `node --import tsx --import ./test/helpers/record-imports.mjs ...`: writes every resolved file: URL under the
// project to stderr as `import: <url>`, so a test can tell which modules a command loaded.
import { register } from 'node:module';

register('./record-imports-hooks.mjs', import.meta.url);
