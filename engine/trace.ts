import { appendFileSync } from 'node:fs';

/**
 * A timing trace for finding where a pass waits: with `MAILFERRY_TRACE=<file>` every IMAP
 * command (by its name only, never its arguments), every checkpoint-store call and the
 * runner's steps between passes are appended to the file as one line each:
 * `<start ms> <duration ms> <what> <who>`, times from the process's start (performance.now).
 * Off (no cost but one check) when the variable is unset.
 */
const file = process.env.MAILFERRY_TRACE;

/** Whether the trace is on. */
export const tracing = !!file;

let lines: string[] = [];
let flushTimer: ReturnType<typeof setTimeout> | null = null;

function flush(): void {
  flushTimer = null;
  if (!file || !lines.length) return;
  const out = lines.join('');
  lines = [];
  appendFileSync(file, out);
}

if (file) process.on('exit', flush);

/** Records one step that started at `start` (performance.now()) and ends now. */
export function traceSpan(what: string, who: string, start: number): void {
  if (!file) return;
  const end = performance.now();
  lines.push(`${start.toFixed(1)} ${(end - start).toFixed(1)} ${what} ${who}\n`);
  flushTimer ??= setTimeout(flush, 200);
  flushTimer.unref?.();
}

/** Times a promise as one step of the trace (the promise itself when the trace is off). */
export function traced<T>(what: string, who: string, p: Promise<T>): Promise<T> {
  if (!file) return p;
  const start = performance.now();
  return p.finally(() => traceSpan(what, who, start));
}
