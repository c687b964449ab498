/**
 * The fault point armed when the process started, read once: a read of `process.env` costs
 * about 2 µs, and a bulk start passes a fault point for each of thousands of items.
 */
const ARMED = process.env.MAILFERRY_FAULT_POINT;

/**
 * Test fault points. A fault point is a named place in the code where a test can make the
 * process die as `kill -9` would (SIGKILL, no clean-up), to prove that what was committed
 * before that place is enough to recover, or send it a stop's SIGTERM there. A test arms one
 * by starting the process with the environment variable MAILFERRY_FAULT_POINT set to its
 * name; nothing else reads that variable, and unset (always, outside tests) a fault point
 * does nothing.
 *
 * Points: `after-status-commit`: a status change is committed, nothing after it has run
 * (no event, no delivery of its post). `before-completion-notice`: a pass completed and its
 * completion notice is queued in the outbox, not yet claimed or sent. `after-bulk-batch`: one
 * batch of a bulk add is committed, the batches after it are not. `booted` (a SIGTERM, as an
 * operator or a service manager stops a process): `serve` or `worker` has booted, its workers
 * may already run a pass, and it has not said yet that it started.
 */
export function faultPoint(name: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): void {
  if (ARMED === name) process.kill(process.pid, signal);
}
