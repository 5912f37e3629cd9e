/**
 * A write path for the store that fails on demand, the way a full disk (ENOSPC) or a failing device (EIO)
 * does: real files underneath; while a fault is on, a write puts part of its bytes on disk and then throws,
 * and fsyncs throw. `hold` parks fsyncs so a test can act while a commit is in flight. Tests pass `ops` to
 * openStore({ dir, fileOps }).
 */
import { open, rename, rm } from 'node:fs/promises';
import type { WriteFileOps, WriteHandle } from '../../src/store/index.ts';

export type FaultCode = 'ENOSPC' | 'EIO';

export interface FaultOptions {
  /** Fail this many operations, then work again (default: until heal()). */
  times?: number;
  /** Only files whose path matches (default: every file). */
  match?: RegExp;
  /** Only these operations (write, fdatasync, fsync, ftruncate, rename); default all but ftruncate. */
  ops?: string[];
  /** Truncation fails too (a device error; a full disk can still truncate). */
  truncate?: boolean;
}

export interface FaultyFs {
  ops: WriteFileOps;
  fail(code: FaultCode, opts?: FaultOptions): void;
  heal(): void;
  /**
   * Parks the next fsyncs of matching files (before their fault check: a fault set meanwhile hits them)
   * until release(); `reached` resolves when the first one is parked. With `written`, only an fsync that
   * follows a write containing that text is parked (others writing the same file pass).
   */
  hold(match?: RegExp, written?: string): { reached: Promise<void>; release(): void };
  /** Failures thrown so far. */
  readonly failures: number;
}

function fault(code: FaultCode, op: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${code === 'ENOSPC' ? 'no space left on device' : 'i/o error'}, ${op}`) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = code === 'ENOSPC' ? -28 : -5;
  e.syscall = op;
  return e;
}

export function faultyFs(): FaultyFs {
  let failing: (FaultOptions & { code: FaultCode }) | undefined;
  let gate: { match?: RegExp; written?: string; opened: Promise<void>; reached(): void } | undefined;
  let failures = 0;
  const failsNow = (path: string, op: string): boolean =>
    !!failing && (!failing.match || failing.match.test(path)) && (failing.ops ? failing.ops.includes(op) : op !== 'ftruncate' || !!failing.truncate);
  const check = (path: string, op: string) => {
    if (!failsNow(path, op)) return;
    const code = failing!.code;
    failures++;
    if (failing!.times !== undefined && --failing!.times <= 0) failing = undefined;
    throw fault(code, op);
  };
  const wrap = (path: string, fh: Awaited<ReturnType<typeof open>>): WriteHandle => {
    // Whether this handle wrote the gate's text since its last fsync.
    let marked = false;
    const parked = async () => {
      const g = gate;
      if (!g || (g.match && !g.match.test(path)) || (g.written !== undefined && !marked)) return;
      marked = false;
      g.reached();
      await g.opened;
    };
    return {
      async write(buffer, offset, length) {
        if (gate?.written !== undefined && buffer.subarray(offset, offset + length).includes(gate.written)) marked = true;
        if (failsNow(path, 'write')) {
          // A full disk takes part of a write before refusing the rest.
          const part = Math.floor(length / 2);
          if (part > 0) await fh.write(buffer, offset, part);
          check(path, 'write');
        }
        return fh.write(buffer, offset, length);
      },
      async datasync() {
        await parked();
        check(path, 'fdatasync');
        await fh.datasync();
      },
      async sync() {
        await parked();
        check(path, 'fsync');
        await fh.sync();
      },
      async truncate(len) {
        check(path, 'ftruncate');
        await fh.truncate(len);
      },
      close: () => fh.close(),
    };
  };
  return {
    ops: {
      // Opening works on a full disk; the writes are what fail.
      open: async (path, flags, mode) => wrap(path, await open(path, flags, mode)),
      async rename(from, to) {
        check(to, 'rename');
        await rename(from, to);
      },
      rm: (path) => rm(path, { force: true }),
    },
    fail(code, opts = {}) {
      failing = { code, ...opts };
    },
    heal() {
      failing = undefined;
    },
    hold(match, written) {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => (reached = r));
      const opened = new Promise<void>((r) => (release = r));
      gate = { match, written, opened, reached };
      return {
        reached: reachedP,
        release() {
          gate = undefined;
          release();
        },
      };
    },
    get failures() {
      return failures;
    },
  };
}
