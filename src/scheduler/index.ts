import { createTask, validate, type ScheduledTask } from 'node-cron';
import { TaxbridgeError, errorMessage } from '../errors.ts';
import type { ConnectionContext, ConnectorSpec, ScheduleSpec, StreamSpec } from '../spec/types.ts';
import { own } from '../own.ts';

export type ScheduledMode = 'full' | 'incremental';

export interface SchedulerLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface StartSchedulerOptions {
  spec: ConnectorSpec;
  conn: ConnectionContext;
  /** Runs one stream (usually runSync with streams: [stream]); its promise ends the run. */
  run: (stream: string, mode: ScheduledMode) => Promise<unknown>;
  logger?: SchedulerLogger;
  /**
   * Several replicas: each tick runs on the one replica `shouldRun` elects (node-cron's distributed mode,
   * keyed by task name and tick time; src/coordination). Default: every tick runs here.
   */
  ticks?: { shouldRun(key: string, ttlMs: number): boolean | Promise<boolean> };
}

/** One cron schedule of a stream (a stream may have several, each with its mode). */
export interface ScheduledStream {
  stream: string;
  /** Position among the stream's schedules (0 for `schedule`). */
  index: number;
  cron: string;
  timezone: string;
  mode: ScheduledMode;
  nextRun(): Date | null;
}

export interface Scheduler {
  readonly streams: ScheduledStream[];
  /** Whether a run of the stream is in progress. */
  isRunning(stream: string): boolean;
  /** Starts a run now (same no-overlap rule); undefined when one is already running. */
  runNow(stream: string, mode?: ScheduledMode): Promise<void> | undefined;
  /** Does what the cron tick of `streams[i]` does (tests, operators): a run in its mode unless the stream is running. */
  tick(i: number): Promise<void> | undefined;
  /** Stops every task and waits for runs in progress to end. */
  stop(): Promise<void>;
}

const consoleLogger: SchedulerLogger = {
  info: () => undefined,
  warn: (m, f) => console.warn(`taxbridge scheduler: ${m}${f ? ` ${JSON.stringify(f)}` : ''}`),
  error: (m, f) => console.error(`taxbridge scheduler: ${m}${f ? ` ${JSON.stringify(f)}` : ''}`),
};

/**
 * node-cron tasks for one connection, from each stream's `schedule` or `schedules` (one task per schedule,
 * each with its mode). A stream never runs twice at once, whichever schedule ticks: a tick that finds a
 * run of the stream still going is skipped and logged. Tasks are unref'd, so a scheduler
 * alone does not keep the process alive; `stop()` ends the tasks and waits for runs in flight.
 */
export function startScheduler(opts: StartSchedulerOptions): Scheduler {
  const logger = opts.logger ?? consoleLogger;
  const running = new Map<string, Promise<void>>();
  const tasks: ScheduledTask[] = [];
  const streams: ScheduledStream[] = [];
  let stopped = false;
  const fields = (stream: string) => ({ connection_id: opts.conn.connection_id, connector: opts.spec.name, stream });

  function trigger(stream: string, mode: ScheduledMode, reason: 'scheduled' | 'manual', tick?: { key: string; at: Date }): Promise<void> | undefined {
    if (stopped) return undefined;
    const tickFields = tick ? { schedule: tick.key, tick: tick.at.toISOString() } : {};
    if (running.has(stream)) {
      logger.warn(`${stream}: previous run still in progress, ${reason} run skipped (${mode})`, { ...fields(stream), ...tickFields });
      return undefined;
    }
    logger.info(`${stream}: ${mode} run started (${reason})`, { ...fields(stream), ...tickFields });
    const started = Date.now();
    const done = (async () => {
      try {
        await opts.run(stream, mode);
        logger.info(`${stream}: run finished in ${Date.now() - started} ms`, fields(stream));
      } catch (e) {
        logger.error(`${stream}: run failed: ${errorMessage(e)}`, { ...fields(stream), ...(e instanceof TaxbridgeError ? { code: e.code } : {}) });
      } finally {
        running.delete(stream);
      }
    })();
    running.set(stream, done);
    return done;
  }

  // Validate every schedule before starting any task: a bad one fails the whole set.
  const planned = Object.entries(opts.spec.streams).flatMap(([stream, s]) =>
    streamSchedules(s).map((sch, index) => {
      const where = s.schedules ? `schedules[${index}] of stream ${stream}` : `stream ${stream}`;
      const cron = sch.cron;
      if (!validate(cron)) {
        throw new TaxbridgeError('SCHEDULE_INVALID', `${where} of ${opts.spec.title} has an invalid cron expression "${cron}"`, {
          hint: 'use 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. "*/15 * * * *"',
        });
      }
      const timezone = sch.timezone ?? 'UTC';
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: timezone });
      } catch {
        throw new TaxbridgeError('SCHEDULE_INVALID', `${where} of ${opts.spec.title} has an unknown time zone "${timezone}"`, { hint: 'use an IANA time zone name such as Europe/London or UTC' });
      }
      const mode: ScheduledMode = sch.mode ?? defaultMode(s);
      return { stream, index, cron, timezone, mode };
    }),
  );

  const cronLogger = {
    info: (m: string) => logger.info(m),
    warn: (m: string) => logger.warn(m),
    error: (m: string | Error) => logger.error(typeof m === 'string' ? m : m.message),
    debug: () => undefined,
  };
  for (const p of planned) {
    let task: ScheduledTask;
    try {
      const name = `${opts.conn.connection_id}:${p.stream}:${p.index}`;
      task = createTask(p.cron, (ctx) => void trigger(p.stream, p.mode, 'scheduled', { key: name, at: ctx.date }), {
        name,
        timezone: p.timezone,
        unref: true,
        logger: cronLogger,
        ...(opts.ticks ? { distributed: true, runCoordinator: opts.ticks } : {}),
      });
    } catch (e) {
      for (const t of tasks) void t.destroy();
      throw new TaxbridgeError('SCHEDULE_INVALID', `stream ${p.stream} (schedule ${p.index}) of ${opts.spec.title}: ${errorMessage(e)}`);
    }
    void task.start();
    tasks.push(task);
    streams.push({ ...p, nextRun: () => task.getNextRun() });
  }

  return {
    streams,
    isRunning: (stream) => running.has(stream),
    runNow(stream, mode) {
      const p = planned.find((x) => x.stream === stream);
      const s = own(opts.spec.streams, stream);
      if (!s) throw new TaxbridgeError('SYNC_UNKNOWN_STREAM', `${opts.spec.title} has no stream "${stream}"`);
      return trigger(stream, mode ?? p?.mode ?? defaultMode(s), 'manual');
    },
    tick(i) {
      const p = streams[i];
      if (!p) throw new TaxbridgeError('SCHEDULE_INVALID', `no schedule #${i} (${streams.length} scheduled)`);
      return trigger(p.stream, p.mode, 'scheduled');
    },
    async stop() {
      stopped = true;
      for (const t of tasks) await t.destroy();
      await Promise.all(running.values());
    },
  };
}

/** The stream's schedules: `schedules`, or the single `schedule` (older specs). */
export function streamSchedules(s: StreamSpec): ScheduleSpec[] {
  return s.schedules ?? (s.schedule ? [s.schedule] : []);
}

function defaultMode(s: StreamSpec): ScheduledMode {
  return s.incremental || s.change_feed ? 'incremental' : 'full';
}
