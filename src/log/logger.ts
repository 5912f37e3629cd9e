/**
 * Structured logs: one JSON object per line, `{"time", "level", "msg", ...fields}`, secrets redacted by key
 * name and by known value (./redact.ts). Loggers are cheap: `child(fields)` adds fields (connection id,
 * request id) to every line it writes.
 */
import { TaxbridgeError } from '../errors.ts';
import { knownSecrets, redact, type SecretValues } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go (each ends with "\n"). Default: process.stdout. */
  write?: (line: string) => void;
  secrets?: SecretValues;
  /** Fields on every line. */
  fields?: Record<string, unknown>;
  now?: () => Date;
}

export function parseLogLevel(v: string | undefined, source = 'log level'): LogLevel {
  if (v === undefined || v === '') return 'info';
  const l = v.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(l)) return l as LogLevel;
  throw new TaxbridgeError('CONFIG_INVALID', `${source} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(v)}`);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const write = opts.write ?? ((line: string) => void process.stdout.write(line));
  const secrets = opts.secrets ?? knownSecrets;
  const now = opts.now ?? (() => new Date());
  const base = opts.fields ?? {};

  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[lvl] < RANK[level]) return;
    const body = redact({ ...base, ...fields }, secrets) as Record<string, unknown>;
    // time, level and msg first and not overridable by fields.
    const line: Record<string, unknown> = { time: now().toISOString(), level: lvl, msg: secrets.scrub(msg) };
    for (const [k, v] of Object.entries(body)) if (!(k in line)) line[k] = v;
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ time: line.time, level: lvl, msg: line.msg, log_error: 'fields could not be serialized' });
    }
    write(`${text}\n`);
  };

  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, level, write, secrets, now, fields: { ...base, ...fields } }),
    enabled: (l) => RANK[l] >= RANK[level],
  };
}

/** A logger that writes nothing (tests, library use). */
export const silentLogger: Logger = createLogger({ level: 'silent', write: () => undefined });
