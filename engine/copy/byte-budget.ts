/**
 * A shared budget of message bytes held in memory at once (fetched, not yet appended),
 * across all connections of a pass. imapflow keeps each message whole in memory, and a
 * message passes through a few buffers on its way (parser, command compiler), so peak
 * memory follows this budget rather than the number of connections. A request larger
 * than the whole budget is let through when nothing else is held, so a 50 MB message
 * still goes (alone).
 */
export class ByteBudget {
  private used = 0;
  private released = 0;
  private readonly queue: { n: number; resolve: () => void }[] = [];
  /** `limit` in bytes. */
  constructor(private readonly limit: number) {}
  /** Waits until `n` bytes fit, then takes them. */
  acquire(n: number): Promise<void> {
    if (this.queue.length === 0 && this.fits(n)) {
      this.used += n;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ n, resolve }));
  }
  /** Gives `n` bytes back and wakes waiters, first come first served. */
  release(n: number): void {
    this.used = Math.max(0, this.used - n);
    this.released += n;
    // Message buffers live outside the V8 heap and are only freed by a full GC, which V8
    // starts on its own only after ~64 MB of external growth. When the process runs with
    // --expose-gc (the benchmark runs it so), collect each time the budget has turned over
    // four times (a full GC costs tens of ms; more often cost throughput, measured).
    if (this.released >= 4 * this.limit && typeof (globalThis as { gc?: () => void }).gc === 'function') {
      this.released = 0;
      (globalThis as unknown as { gc: () => void }).gc();
    }
    while (this.queue.length && this.fits(this.queue[0].n)) {
      const next = this.queue.shift()!;
      this.used += next.n;
      next.resolve();
    }
  }
  /** Bytes currently taken. */
  get inUse(): number {
    return this.used;
  }
  private fits(n: number): boolean {
    return this.used === 0 || this.used + n <= this.limit;
  }
}
