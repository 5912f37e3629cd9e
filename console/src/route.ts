/** Client-side routes after '#' (the server serves one page at /console): "#/connections/conn_1" -> ["connections", "conn_1"]. */
import { useEffect, useState } from 'preact/hooks';

export function currentRoute(): string[] {
  const h = location.hash.replace(/^#\/?/, '');
  const [path] = h.split('?');
  return (path ?? '').split('/').filter(Boolean).map(decodeURIComponent);
}

export function routeQuery(): URLSearchParams {
  const i = location.hash.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
}

export function useRoute(): string[] {
  const [r, setR] = useState(currentRoute());
  useEffect(() => {
    const on = () => setR(currentRoute());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return r;
}

export function href(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}

export function go(...parts: string[]): void {
  location.hash = href(...parts).slice(1);
}
