/** A limit: at most `max` hits per `windowMs`. */
export interface Limit {
  max: number;
  windowMs: number;
}

/**
 * A fixed-window counter per key, in memory (one process serves the form). Keys are
 * client addresses or link hashes, never raw tokens.
 */
export class RateLimiter {
  private hits = new Map<string, { count: number; resetAt: number }>();
  private lastSweep = 0;

  constructor(
    private limit: Limit,
    private now: () => number = Date.now,
  ) {}

  /** Counts a hit; `ok: false` with the wait when the key is over its limit. */
  hit(key: string): { ok: true } | { ok: false; retryAfterMs: number } {
    const t = this.now();
    this.sweep(t);
    let e = this.hits.get(key);
    if (!e || e.resetAt <= t) {
      e = { count: 0, resetAt: t + this.limit.windowMs };
      this.hits.set(key, e);
    }
    e.count++;
    if (e.count > this.limit.max) return { ok: false, retryAfterMs: e.resetAt - t };
    return { ok: true };
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < this.limit.windowMs) return;
    this.lastSweep = t;
    for (const [k, e] of this.hits) if (e.resetAt <= t) this.hits.delete(k);
  }
}
