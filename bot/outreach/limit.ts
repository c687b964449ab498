/**
 * Runs at most `max` tasks at a time; the others wait their turn in arrival order. The
 * outreach sends credential requests through one: a bulk start of thousands of mailboxes
 * opens a few SMTP connections and makes a few chat API calls at a time instead of
 * thousands at once (which time out together, or trip the platform's rate limits).
 */
export class ConcurrencyLimit {
  private running = 0;
  private waiting: (() => void)[] = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new Error(`concurrency must be a whole number of at least 1, not ${max}`);
  }

  /** Runs `task` once a slot is free; settles like it. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter (the count stays), or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }
}
