/**
 * File names from ids: every character outside [A-Za-z0-9_-] becomes %XX (UTF-8), so connection ids and
 * stream names can never escape the data folder or collide after case folding tricks like "." and "..".
 */
export function safeFileName(name: string): string {
  if (name === '') return '%';
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
