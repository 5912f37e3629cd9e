import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { startScheduler } from '../src/scheduler/index.ts';
import { recordingLogger } from './fixtures/sync/harness.ts';
import type { StreamSpec } from '../src/spec/types.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

const stream = (schedule: StreamSpec['schedule'], incremental = false): StreamSpec => ({
  entity: 'product',
  request: { path: '/p' },
  records: 'items',
  mapping: '{ "external_id": id, "name": name }',
  schedule,
  ...(incremental ? { incremental: { cursor_field: 'updated' } } : {}),
});

describe('scheduler', () => {
  it('creates one task per scheduled stream with its timezone and mode', async () => {
    const spec = testSpec({
      streams: {
        a: stream({ cron: '0 9 * * *', timezone: 'America/New_York' }, true),
        b: stream({ cron: '*/15 * * * *', mode: 'full' }, true),
        c: stream({ cron: '30 2 * * *' }),
        unscheduled: stream(undefined),
      },
    });
    const s = startScheduler({ spec, conn: testConn('http://x'), run: async () => undefined, logger: recordingLogger().logger });
    expect(s.streams.map((x) => [x.stream, x.timezone, x.mode])).toEqual([
      ['a', 'America/New_York', 'incremental'],
      ['b', 'UTC', 'full'],
      ['c', 'UTC', 'full'],
    ]);
    const next = s.streams[0]!.nextRun()!;
    // 09:00 in New York is 13:00 or 14:00 UTC depending on daylight saving.
    expect([13, 14]).toContain(next.getUTCHours());
    expect(next.getUTCMinutes()).toBe(0);
    await s.stop();
  });

  it('never runs a stream twice at once: a tick during a run is skipped and logged; stop waits for the run', async () => {
    const spec = testSpec({ streams: { fast: stream({ cron: '* * * * * *' }) } });
    const { lines, logger } = recordingLogger();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    let finished = 0;
    let firstStarted!: () => void;
    const firstRun = new Promise<void>((r) => (firstStarted = r));
    const s = startScheduler({
      spec,
      conn: testConn('http://x', { connection_id: 'conn-a' }),
      logger,
      run: async (name, mode) => {
        expect([name, mode]).toEqual(['fast', 'full']);
        started++;
        firstStarted();
        await gate;
        finished++;
      },
    });
    await firstRun;
    // Two more ticks while the first run is held open.
    await new Promise((r) => setTimeout(r, 2200));
    expect(started).toBe(1);
    expect(s.isRunning('fast')).toBe(true);
    expect(lines.filter((l) => l.startsWith('warn fast: previous run still in progress, scheduled run skipped')).length).toBeGreaterThanOrEqual(1);
    expect(s.runNow('fast')).toBeUndefined();
    const stopping = s.stop();
    release();
    await stopping;
    expect(finished).toBe(1);
    expect(s.isRunning('fast')).toBe(false);
    // No run starts after stop.
    await new Promise((r) => setTimeout(r, 1100));
    expect(started).toBe(1);
  }, 10_000);

  it('runNow runs on demand; a failing run is logged, not thrown', async () => {
    const spec = testSpec({ streams: { s: stream({ cron: '0 0 1 1 *' }, true) } });
    const { lines, logger } = recordingLogger();
    const s = startScheduler({ spec, conn: testConn('http://x'), logger, run: async () => Promise.reject(new Error('upstream down')) });
    await s.runNow('s');
    expect(lines).toContain('error s: run failed: upstream down');
    await s.stop();
  });

  it('rejects an invalid cron expression or time zone', () => {
    const run = async () => undefined;
    expect(() => startScheduler({ spec: testSpec({ streams: { s: stream({ cron: 'every day' }) } }), conn: testConn('http://x'), run })).toThrow(
      expect.objectContaining({ code: 'SCHEDULE_INVALID' }),
    );
    expect(() => startScheduler({ spec: testSpec({ streams: { s: stream({ cron: '* * * * *', timezone: 'Mars/Olympus' }) } }), conn: testConn('http://x'), run })).toThrow(
      expect.objectContaining({ code: 'SCHEDULE_INVALID' }),
    );
  });

  it('does not keep the process alive', async () => {
    const script = `
      import { startScheduler } from './src/scheduler/index.ts';
      import { testConn, testSpec } from './test/fixtures/sync/spec.ts';
      startScheduler({ spec: testSpec({ streams: { s: { entity: 'product', request: { path: '/p' }, records: 'items', mapping: 'x', schedule: { cron: '* * * * * *' } } } }), conn: testConn('http://x'), run: async () => undefined });
      console.log('scheduled');
    `;
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'ignore' });
      const timer = setTimeout(() => p.kill('SIGKILL'), 8000);
      p.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(8000);
  }, 15_000);
});
