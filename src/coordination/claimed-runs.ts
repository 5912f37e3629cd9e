/**
 * The worker side of a queue collection shared by replicas: every run of a job happens under this replica's
 * claim (heartbeats keep it while the job runs; it ends when the outcome is saved), and a poller claims due
 * jobs nobody holds, such as those of a killed replica once their claim expired, and hands them to the
 * in-process queue (src/webhooks/job-queue.ts), which keeps its per-partition order and concurrency.
 * With the embedded store claims are always granted and nothing polls: the in-process queue is all there is.
 */
import { errorMessage } from '../errors.ts';
import type { JobClaims } from './types.ts';

export interface RunResult {
  retryAt?: number;
  /** Keep the claim until it expires (the job waits for something; polling it sooner would only spin). */
  hold?: boolean;
}

export interface ClaimedRunsOptions {
  claims: JobClaims;
  pollMs: number;
  /** How many more jobs the local queue takes now. */
  room(): number;
  enqueue(id: string, partition: string): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  /** What the queue is called in logs. */
  name: string;
}

export class ClaimedRuns {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly o: ClaimedRunsOptions) {}

  /** Whether jobs are found by polling (shared store) rather than only by the local queue. */
  get polls(): boolean {
    return this.o.claims.polls;
  }

  /**
   * Runs `fn` for job `id` under this replica's claim; when another replica holds the job, nothing runs (it
   * is theirs, and comes back to the poll if they die).
   */
  async run<R extends RunResult>(id: string, fn: () => Promise<R | void>): Promise<R | void> {
    if (!(await this.o.claims.claim(id))) return undefined;
    const stop = this.o.claims.heartbeat(id);
    let hold = false;
    try {
      const r = await fn();
      hold = r?.hold === true;
      return r;
    } finally {
      stop();
      if (!hold) await this.o.claims.release(id);
    }
  }

  start(): void {
    if (!this.o.claims.polls || this.timer || this.stopped) return;
    this.timer = setInterval(() => this.kick(), this.o.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Looks for due jobs now (one pass at a time; a kick during a pass runs one more). */
  kick(): void {
    if (!this.o.claims.polls || this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = this.pass()
      .catch((e: unknown) => this.o.warn(`looking for due ${this.o.name} failed`, { error: errorMessage(e) }))
      .finally(() => {
        this.polling = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pass(): Promise<void> {
    const room = this.o.room();
    if (room <= 0) return;
    for (const j of await this.o.claims.claimDue(room)) {
      if (this.stopped) {
        await this.o.claims.release(j.id);
        continue;
      }
      this.o.enqueue(j.id, j.partition);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }
}
