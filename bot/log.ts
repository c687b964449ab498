/**
 * The logger. One line per event on stderr, `level message key=value…`. Every line goes
 * through `redact`, so a credential, token or link can never reach a log even by mistake
 * (no credential, token, secret or link may appear in any log line); tests assert it on whole runs.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * Field names whose values are never logged. "pass" alone is not one of them: it is a copy
 * pass (`pass=3`); passwords are `password`, `passwd`, `passphrase`, `appPassword`, ….
 */
const SECRET_KEYS = /passw(or)?d|passphrase|secret|token|authorization|cookie|key|link|url|csrf/i;

/** Removes anything that looks like a secret from a log line. */
export function redact(s: string): string {
  return s
    .replace(/(\/c\/)[A-Za-z0-9_-]{16,}/g, '$1[redacted]')
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]')
    .replace(/\b(xox[abposr]-)[A-Za-z0-9-]+/g, '$1[redacted]')
    .replace(/((?:password|passwd|pwd|secret|token|csrf)[\w-]*["']?\s*[=:]\s*["']?)[^\s"'&,}]+/gi, '$1[redacted]');
}

function fmt(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(`${v.name}: ${v.message}`);
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** A logger writing to a sink (stderr by default), with fields and redaction. */
export class Logger {
  constructor(
    private sink: (line: string) => void = (l) => process.stderr.write(l + '\n'),
    private minLevel: Level = (process.env.LOG_LEVEL as Level) || 'info',
    private base: Record<string, unknown> = {},
  ) {}

  /** A child logger adding fields to every line. */
  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.sink, this.minLevel, { ...this.base, ...fields });
  }

  log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
    const order: Level[] = ['debug', 'info', 'warn', 'error'];
    if (order.indexOf(level) < order.indexOf(this.minLevel)) return;
    const all = { ...this.base, ...fields };
    const kv = Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${SECRET_KEYS.test(k) ? '[redacted]' : fmt(v)}`)
      .join(' ');
    this.sink(redact(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${kv ? ' ' + kv : ''}`));
  }
  debug(msg: string, f?: Record<string, unknown>) {
    this.log('debug', msg, f);
  }
  info(msg: string, f?: Record<string, unknown>) {
    this.log('info', msg, f);
  }
  warn(msg: string, f?: Record<string, unknown>) {
    this.log('warn', msg, f);
  }
  error(msg: string, f?: Record<string, unknown>) {
    this.log('error', msg, f);
  }
}

/**
 * Sends what libraries write with `console.error` / `console.warn` (botbuilder's auth
 * failures, Express's default error printer) through `log` instead of raw stderr, so those
 * lines are redacted like ours. Returns the undo (the server's close calls it).
 */
export function routeConsoleToLog(log: Logger): () => void {
  const saved = { error: console.error, warn: console.warn };
  const line =
    (level: Level) =>
    (...args: unknown[]) =>
      log.log(
        level,
        `console: ${args
          .map((a) =>
            a instanceof Error
              ? `${a.name}: ${a.message}`
              : typeof a === 'string'
                ? a
                : (JSON.stringify(a) ?? String(a)),
          )
          .join(' ')
          .slice(0, 2000)}`,
      );
  const ours = { error: line('error'), warn: line('warn') };
  console.error = ours.error;
  console.warn = ours.warn;
  return () => {
    // Only undo our own replacement (another may have been installed since).
    if (console.error === ours.error) console.error = saved.error;
    if (console.warn === ours.warn) console.warn = saved.warn;
  };
}
