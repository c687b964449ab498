/**
 * Keeps a pass under a message rate a provider imposes (Office 365 takes about 3,600
 * messages an hour per mailbox before it throttles). Shared by all connections of a pass:
 * each batch asks for its messages before it is sent, and waits while the pass is ahead
 * of the rate. The first batch goes at once; on average the pass never exceeds the rate.
 */
/** Time as the pacer sees it: when now is, and how to wait. Tests give their own. */
export interface PaceClock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts (a stop cuts a wait short). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Waits `ms`, or less when `signal` aborts first; never rejects. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The wall clock. */
export const WALL_CLOCK: PaceClock = { now: () => Date.now(), sleep: abortableSleep };

export class Pacer {
  private next: number;
  private readonly msPerMessage: number;
  /** `perHour` messages per hour; `now` is injectable for tests. */
  constructor(
    perHour: number,
    private readonly now: () => number = Date.now,
  ) {
    this.msPerMessage = 3_600_000 / perHour;
    this.next = now();
  }
  /** How long (ms) a batch of `n` messages must wait before it goes; reserves its slot. */
  reserve(n: number): number {
    const t = this.now();
    const start = Math.max(this.next, t);
    this.next = start + n * this.msPerMessage;
    return start - t;
  }
  /** Messages in a minute at this rate (at least 1): a batch is never larger. */
  get perMinute(): number {
    return Math.max(1, Math.floor(60_000 / this.msPerMessage));
  }
}
