import type { RateCounters } from '../store/rate-counters.ts';

/** A limit: at most `max` hits per `windowMs`. */
export interface Limit {
  max: number;
  windowMs: number;
}

/** One check of a request: the limit's name, the limit, and what it counts (a client address, a link's hash). */
export interface LimitCheck {
  name: string;
  limit: Limit;
  key: string;
}

/**
 * Fixed-window rate limits over counters in the database, so every process serving the form
 * counts against the same limits. Keys are client addresses or link hashes, never raw tokens.
 */
export class RateLimiter {
  constructor(
    private counters: RateCounters,
    private now: () => number = Date.now,
  ) {}

  /**
   * Counts one hit on every check at once; `ok: false` with the wait when any is over its
   * limit (the first one, in the order given).
   */
  async hit(checks: readonly LimitCheck[]): Promise<{ ok: true } | { ok: false; retryAfterMs: number; name: string }> {
    const states = await this.counters.hit(
      checks.map((c) => ({ key: `${c.name}:${c.key}`, windowMs: c.limit.windowMs })),
    );
    const at = this.now();
    for (const [i, c] of checks.entries()) {
      const s = states[i];
      if (s && s.count > c.limit.max) return { ok: false, retryAfterMs: Math.max(1000, s.resetAt - at), name: c.name };
    }
    return { ok: true };
  }
}
