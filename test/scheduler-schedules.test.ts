/**
 * Several schedules per stream, each with its mode, driven through the scheduler's own tick function (no
 * clock waits): both schedules are planned with their next runs, each tick runs its mode, and a tick of one
 * schedule while the other's run is going on is skipped (no overlapping runs of a stream).
 */
import { describe, expect, it } from 'vitest';
import { startScheduler } from '../src/scheduler/index.ts';
import { recordingLogger } from './fixtures/sync/harness.ts';
import type { StreamSpec } from '../src/spec/types.ts';
import { lintSpec } from '../src/spec/lint.ts';
import { testConn, testSpec } from './fixtures/sync/spec.ts';

const base: StreamSpec = { entity: 'product', request: { path: '/p' }, records: 'items', mapping: '{ "external_id": id, "name": name }', incremental: { cursor_field: 'updated' } };

describe('several schedules per stream', () => {
  it('plans each schedule with its mode and next run; legacy `schedule` still works', async () => {
    const spec = testSpec({
      streams: {
        invoices: { ...base, schedules: [{ cron: '*/15 * * * *', mode: 'incremental' }, { cron: '0 3 * * *', mode: 'full', timezone: 'Europe/London' }] },
        customers: { ...base, schedule: { cron: '30 * * * *' } },
      },
    });
    const s = startScheduler({ spec, conn: testConn('http://x'), run: async () => undefined, logger: recordingLogger().logger });
    expect(s.streams.map((x) => [x.stream, x.index, x.cron, x.mode, x.timezone])).toEqual([
      ['invoices', 0, '*/15 * * * *', 'incremental', 'UTC'],
      ['invoices', 1, '0 3 * * *', 'full', 'Europe/London'],
      ['customers', 0, '30 * * * *', 'incremental', 'UTC'],
    ]);
    const next = s.streams.map((x) => x.nextRun()!);
    expect(next[0]!.getUTCMinutes() % 15).toBe(0);
    expect(next[1]!.getUTCMinutes()).toBe(0);
    expect(next[2]!.getUTCMinutes()).toBe(30);
    await s.stop();
  });

  it('each tick runs in its mode, and never while the stream is already running', async () => {
    const spec = testSpec({ streams: { invoices: { ...base, schedules: [{ cron: '*/15 * * * *', mode: 'incremental' }, { cron: '0 3 * * *', mode: 'full' }] } } });
    const { lines, logger } = recordingLogger();
    const runs: string[] = [];
    let release!: () => void;
    const s = startScheduler({
      spec,
      conn: testConn('http://x'),
      logger,
      run: async (stream, mode) => {
        runs.push(`${stream}:${mode}`);
        if (mode === 'incremental') await new Promise<void>((r) => (release = r));
      },
    });
    const first = s.tick(0);
    expect(first).toBeDefined();
    expect(s.isRunning('invoices')).toBe(true);
    // The nightly full tick comes while the incremental run is going on: skipped, logged with its mode.
    expect(s.tick(1)).toBeUndefined();
    expect(lines).toContain('warn invoices: previous run still in progress, scheduled run skipped (full)');
    release();
    await first;
    await s.tick(1);
    expect(runs).toEqual(['invoices:incremental', 'invoices:full']);
    await s.stop();
  });

  it('validate: both schedule and schedules, a bad cron inside schedules, incremental mode without a cursor', () => {
    const spec = testSpec({
      streams: {
        a: { ...base, schedule: { cron: '0 * * * *' }, schedules: [{ cron: '0 * * * *' }] },
        b: { ...base, incremental: undefined, schedules: [{ cron: '0 3 * * *', mode: 'full' }, { cron: 'every minute', mode: 'incremental' }] },
      },
    });
    const codes = lintSpec({ file: 'x.yaml', text: '', value: spec, valuePositions: new Map(), keyPositions: new Map(), diagnostics: [] }).map((d) => `${d.code} ${d.path}`);
    expect(codes).toEqual(expect.arrayContaining(['LINT_SCHEDULE_TWICE streams.a.schedules', 'LINT_BAD_CRON streams.b.schedules[1].cron', 'LINT_INCREMENTAL_WITHOUT_CURSOR streams.b.schedules[1].mode']));
  });
});
