import { Prisma } from '../../generated/prisma/client.ts';
import type { BotDb } from './bot-db.ts';

/** One hit to count: the counter's key and the length of its window. */
export interface CounterHit {
  key: string;
  windowMs: number;
}

/** A counter after a hit: hits in its current window, and when that window ends (epoch ms). */
export interface CounterState {
  key: string;
  count: number;
  resetAt: number;
}

/**
 * Fixed-window counters kept in the database (the RateCounter table), so a limit holds
 * across every process sharing it, whatever process a client's requests reach.
 */
export interface RateCounters {
  /**
   * Counts one hit on each key, in one atomic statement: a key whose window has ended starts
   * a new one at 1. Returns each key's state after the hit, in the order given. Two
   * processes counting the same key at once both count: neither hit is lost.
   */
  hit(hits: readonly CounterHit[]): Promise<CounterState[]>;
}

/** How often (at most) a hit also removes rows whose window has ended. */
const SWEEP_EVERY_MS = 60_000;

/** RateCounters on the RateCounter table. `now` is the clock (tests). */
export function rateCounters(db: BotDb, now: () => number = Date.now): RateCounters {
  let lastSweep = 0;
  return {
    async hit(hits) {
      if (!hits.length) return [];
      const at = now();
      if (at - lastSweep >= SWEEP_EVERY_MS) {
        lastSweep = at;
        await db.$executeRaw`DELETE FROM "RateCounter" WHERE "resetAt" <= ${BigInt(at)}`;
      }
      // Keys in one order in every statement: two statements on PostgreSQL that share keys
      // lock their rows in the same order and never deadlock. A key counted twice in one
      // call is counted once (one row cannot be upserted twice by one statement).
      const unique = [...new Map(hits.map((h) => [h.key, h])).values()].sort((a, b) =>
        a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
      );
      const values = Prisma.join(unique.map((h) => Prisma.sql`(${h.key}, 1, ${BigInt(at + h.windowMs)})`));
      const rows = await db.$queryRaw<{ key: string; count: number | bigint; resetAt: number | bigint }[]>`
        INSERT INTO "RateCounter" ("key", "count", "resetAt") VALUES ${values}
        ON CONFLICT ("key") DO UPDATE SET
          "count" = CASE WHEN "RateCounter"."resetAt" <= ${BigInt(at)} THEN 1 ELSE "RateCounter"."count" + 1 END,
          "resetAt" = CASE WHEN "RateCounter"."resetAt" <= ${BigInt(at)} THEN excluded."resetAt"
            ELSE "RateCounter"."resetAt" END
        RETURNING "key", "count", "resetAt"`;
      const byKey = new Map(
        rows.map((r) => [r.key, { key: r.key, count: Number(r.count), resetAt: Number(r.resetAt) }]),
      );
      return hits.map((h) => byKey.get(h.key)!);
    },
  };
}
