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

/** The id a file name was made from (inverse of safeFileName); undefined when `name` is not one of its outputs. */
export function fromSafeFileName(name: string): string | undefined {
  if (name === '%') return '';
  if (!/^(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+$/.test(name)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '%') {
      bytes.push(parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(name.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}
