/**
 * Where the webhook and write-back parts report what happened (an event processed, a job retried or dead).
 * Messages carry ids, codes and reasons, never credentials, signatures or bodies.
 */
export type LogLevel = 'info' | 'warn' | 'error';
export type LogFn = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export const silentLog: LogFn = () => undefined;

/** One JSON line per entry on stderr. */
export const stderrLog: LogFn = (level, message, fields) => {
  process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), level, message, ...fields })}\n`);
};
