import { open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TaxbridgeError } from '../errors.ts';

/** Data folders open in this process (two stores on one folder would overwrite each other's files). */
const openHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function locked(dir: string, pid: number | 'this process'): TaxbridgeError {
  return new TaxbridgeError('STORE_LOCKED', `the data folder ${dir} is already open in ${pid === 'this process' ? pid : `process ${pid}`}`, {
    hint: 'stop the other taxbridge process (or close the other store) first; one process owns a data folder at a time',
  });
}

/** Takes the folder's LOCK file (pid inside); a lock left by a dead process is taken over. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const abs = resolve(dir);
  if (openHere.has(abs)) throw locked(abs, 'this process');
  const path = join(abs, 'LOCK');
  for (let tries = 0; ; tries++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) throw e;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw locked(abs, pid);
      await rm(path, { force: true });
    }
  }
  openHere.add(abs);
  return async () => {
    openHere.delete(abs);
    await rm(path, { force: true });
  };
}

