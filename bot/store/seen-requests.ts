import type { BotDb } from './bot-db.ts';

/**
 * Remembers chat requests already handled, so a platform retry or a replayed signed request
 * runs once. Kept in the database (not in memory) so it holds across processes sharing it.
 * Adapters never touch the database: the composition root hands them this ledger.
 */
export interface RequestLedger {
  /**
   * Records `keys` (a request's signature, event id, trigger id…) for `ttlMs`. Resolves true
   * when none of them was seen within its window (the request is new and should run), false
   * when any was (a retry or a replay). Atomic per key: of two processes claiming the same
   * key at once, exactly one gets true.
   */
  claim(keys: readonly string[], ttlMs: number): Promise<boolean>;
}

/** How often (at most) a claim also removes expired rows. */
const SWEEP_EVERY_MS = 60_000;

/** A RequestLedger on the SeenRequest table. `now` is the clock (tests). */
export function requestLedger(db: BotDb, now: () => number = Date.now): RequestLedger {
  let lastSweep = 0;
  return {
    async claim(keys, ttlMs) {
      const at = now();
      const expiresAt = BigInt(at + ttlMs);
      if (at - lastSweep >= SWEEP_EVERY_MS) {
        lastSweep = at;
        await db.$executeRaw`DELETE FROM "SeenRequest" WHERE "expiresAt" <= ${BigInt(at)}`;
      }
      let fresh = true;
      for (const key of new Set(keys)) {
        // Insert, or take over a row whose window has passed; a live row is left alone and
        // changes nothing (0 rows), which is how a repeat is recognised.
        const changed =
          await db.$executeRaw`INSERT INTO "SeenRequest" ("key", "expiresAt") VALUES (${key}, ${expiresAt})
          ON CONFLICT ("key") DO UPDATE SET "expiresAt" = excluded."expiresAt"
          WHERE "SeenRequest"."expiresAt" <= ${BigInt(at)}`;
        if (changed === 0) fresh = false;
      }
      return fresh;
    },
  };
}
