import { runDemo } from '../../demo/run.ts';
import { parseCommandArgs } from '../args.ts';

export const usage = `Usage: taxbridge demo [--keep] [--data <dir>]

Starts fake Sequence and Rillet APIs and a real taxbridge server on 127.0.0.1, then connects both systems,
backfills, sends webhooks, shows tax written back onto their invoices and makes a live tax call.
--keep leaves everything running afterwards (Ctrl-C stops it); --data keeps the data folder.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, { keep: { type: 'boolean', default: false }, data: { type: 'string' } }, false);
  await runDemo({ keep: values.keep, dataDir: values.data });
  return 0;
}
