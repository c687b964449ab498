/**
 * Keeps a pass under a message rate a provider imposes (Office 365 takes about 3,600
 * messages an hour per mailbox before it throttles). Shared by all connections of a pass:
 * each batch asks for its messages before it is sent, and waits while the pass is ahead
 * of the rate. The first batch goes at once; on average the pass never exceeds the rate.
 */
export class Pacer {
  private next: number;
  private readonly msPerMessage: number;
  /** `perHour` messages per hour; `now` is injectable for tests. */
  constructor(perHour: number, private readonly now: () => number = Date.now) {
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
