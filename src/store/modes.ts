import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { TaxbridgeError } from '../errors.ts';

/**
 * The data folder holds customer data, credentials (encrypted) and the master key: only its owner may read
 * it. Folders are 0700 and files 0600. Files are created with the mode passed explicitly: a umask can only
 * clear bits, so it can never make them readable by others.
 */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

export function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/** mkdir -p whose created folders are 0700 (chmod after mkdir, which applies the umask). */
export async function mkdirPrivate(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (first === undefined) return;
  let path = first;
  await chmod(path, DIR_MODE);
  for (const part of relative(first, dir).split(sep).filter(Boolean)) {
    path = join(path, part);
    await chmod(path, DIR_MODE);
  }
}

export interface ModeChange {
  path: string;
  /** The mode it had, e.g. "0755". */
  from: string;
  to: string;
}

/**
 * Makes an existing data folder private: the folder and every folder below 0700, every file 0600 (symbolic
 * links are left alone, their targets are not ours to change). Returns what it changed, for a warning.
 * Tightening rather than refusing: a folder made by an older version or a permissive umask is fixed at the
 * next start without an operator's step; only when chmod is not allowed (another owner) does the start stop.
 */
export async function makePrivate(dir: string): Promise<ModeChange[]> {
  const changed: ModeChange[] = [];
  const visit = async (path: string, isDir: boolean, mode: number): Promise<void> => {
    const want = isDir ? DIR_MODE : FILE_MODE;
    if ((mode & 0o777) !== want) {
      try {
        await chmod(path, want);
      } catch (e) {
        throw new TaxbridgeError('STORE_PERMISSIONS', `${path} has mode ${octal(mode)} and cannot be made private (${octal(want)}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
          hint: `run taxbridge as the owner of the data folder, or run \`chmod -R u=rwX,go= ${dir}\` as its owner`,
          details: { path, mode: octal(mode), wanted: octal(want) },
        });
      }
      changed.push({ path, from: octal(mode), to: octal(want) });
    }
    if (!isDir) return;
    for (const entry of await readdir(path, { withFileTypes: true })) {
      if (entry.isSymbolicLink()) continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) await visit(child, true, (await lstat(child)).mode);
      else if (entry.isFile()) await visit(child, false, (await lstat(child)).mode);
    }
  };
  await visit(dir, true, (await lstat(dir)).mode);
  return changed;
}
