/**
 * A shared budget of message bytes held in memory at once on the buffered path (fetched,
 * not yet appended; destinations without LITERAL+ and batches the destination refused),
 * across all connections of a pass. imapflow keeps each message whole in memory, and a
 * message passes through a few buffers on its way (parser, command compiler), so peak
 * memory follows this budget rather than the number of connections. A request larger
 * than the whole budget is let through when nothing else is held, so a 50 MB message
 * still goes (alone).
 */
export class ByteBudget {
  private used = 0;
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
    for (let next = this.queue[0]; next && this.fits(next.n); next = this.queue[0]) {
      this.queue.shift();
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
