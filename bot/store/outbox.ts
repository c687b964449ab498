import { botTx, type BotDb, type BotTx } from './bot-db.ts';
import { countInChunks, inChunks } from '../../engine/store/chunk.ts';
import { dialectOf, type RawTx } from '../../engine/store/dialect.ts';

/** A pending or delivered thread post, as the outbox keeps it. */
export interface OutboxRow {
  id: number;
  threadRef: string;
  itemId: string | null;
  address: string | null;
  kind: string;
  /** JSON of the message (the store never looks inside). */
  message: string;
  replaceKey: string | null;
  solo: boolean;
  attempts: number;
  availableAt: Date;
  createdAt: Date;
}

/** What to write into the outbox. */
export interface OutboxInput {
  threadRef: string;
  itemId?: string | null;
  address?: string | null;
  kind: string;
  message: string;
  replaceKey?: string | null;
  solo?: boolean;
}

/** Final states of a row: delivered, delivered inside a combined post, replaced by a newer one, given up. */
export type OutboxDone = 'sent' | 'merged' | 'superseded' | 'dead';

/** Writes a post into the outbox (inside the caller's transaction when given); returns its id. */
export async function enqueueOutbox(tx: BotTx, p: OutboxInput, now: Date): Promise<number> {
  // PostgreSQL: one writer per thread at a time until its transaction ends, so ids of a
  // thread's posts follow the order their transactions commit in, and a claim never sees a
  // later post of a thread before an earlier one that is still being committed. (SQLite's
  // writes are serialised already.)
  if (dialectOf(tx) === 'postgresql') await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${p.threadRef}))`;
  const row = await tx.outboxPost.create({
    data: {
      threadRef: p.threadRef,
      itemId: p.itemId ?? null,
      address: p.address ?? null,
      kind: p.kind,
      message: p.message,
      replaceKey: p.replaceKey ?? null,
      solo: p.solo ?? false,
      availableAt: now,
      createdAt: now,
    },
    select: { id: true },
  });
  return row.id;
}

/**
 * Writes a post into the outbox like `enqueueOutbox`, with raw statements only: inside a bulk
 * command's transaction, which on SQLite runs without Prisma's client (engine/store/raw-tx.ts).
 */
export async function enqueueOutboxRaw(tx: RawTx, p: OutboxInput, now: Date): Promise<number> {
  // PostgreSQL: one writer per thread at a time until the transaction ends (see `enqueueOutbox`).
  if (dialectOf(tx) === 'postgresql') await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${p.threadRef}))`;
  const [row] = await tx.$queryRaw<{ id: number | bigint }[]>`INSERT INTO "OutboxPost"
    ("threadRef", "itemId", "address", "kind", "message", "replaceKey", "solo", "availableAt", "createdAt")
    VALUES (${p.threadRef}, ${p.itemId ?? null}, ${p.address ?? null}, ${p.kind}, ${p.message},
      ${p.replaceKey ?? null}, ${p.solo ?? false}, ${now}, ${now})
    RETURNING "id"`;
  if (!row) throw new Error('outbox: the insert returned no id');
  return Number(row.id);
}

/**
 * Threads with pending rows that are due and not leased by a live process, limited to the
 * given surfaces (`slack:` …) when a list is given.
 */
export async function threadsWithDuePosts(db: BotDb, now: Date, surfaces?: string[]): Promise<string[]> {
  const rows = await db.outboxPost.findMany({
    where: {
      state: null,
      availableAt: { lte: now },
      OR: [{ claimedUntil: null }, { claimedUntil: { lt: now } }],
      ...(surfaces ? { AND: [{ OR: surfaces.map((s) => ({ threadRef: { startsWith: `${s}:` } })) }] } : {}),
    },
    select: { threadRef: true },
    distinct: ['threadRef'],
    orderBy: { id: 'asc' },
  });
  return rows.map((r) => r.threadRef);
}

/**
 * Gives back the pending rows of the given surfaces (`slack`, `notice` …) claimed by a holder
 * that `gone` says has ended, so they are delivered now rather than when the claim runs out;
 * returns how many.
 */
export async function releaseClaimsOfGone(
  db: BotDb,
  surfaces: string[],
  gone: (owner: string) => boolean,
): Promise<number> {
  if (!surfaces.length) return 0;
  const held = await db.outboxPost.findMany({
    where: {
      state: null,
      claimedBy: { not: null },
      OR: surfaces.map((s) => ({ threadRef: { startsWith: `${s}:` } })),
    },
    select: { id: true, claimedBy: true },
  });
  const byOwner = new Map<string, number[]>();
  for (const r of held)
    if (r.claimedBy && gone(r.claimedBy)) byOwner.set(r.claimedBy, [...(byOwner.get(r.claimedBy) ?? []), r.id]);
  let released = 0;
  for (const [owner, ids] of byOwner) {
    await releaseOutbox(db, ids, owner);
    released += ids.length;
  }
  return released;
}

/** The thread references of outbox rows that start with `prefix` (each once). */
export async function outboxThreads(db: BotDb, prefix: string): Promise<string[]> {
  const rows = await db.outboxPost.findMany({
    where: { threadRef: { startsWith: prefix } },
    select: { threadRef: true },
    distinct: ['threadRef'],
  });
  return rows.map((r) => r.threadRef);
}

/**
 * Leases the pending rows of one thread, oldest first, for `leaseMs`: a conditional update,
 * so two processes never take the same row. Stops at the first row that is not due yet
 * (a post waiting for its retry holds back the later posts of its thread: order is kept).
 * Returns the rows this process now holds.
 */
export async function claimThreadPosts(
  db: BotDb,
  threadRef: string,
  owner: string,
  now: Date,
  leaseMs: number,
  limit = 1000,
): Promise<OutboxRow[]> {
  return botTx(db, (tx) => claimIn(tx, threadRef, owner, now, leaseMs, limit));
}

async function claimIn(
  db: BotTx,
  threadRef: string,
  owner: string,
  now: Date,
  leaseMs: number,
  limit: number,
): Promise<OutboxRow[]> {
  if (dialectOf(db) === 'postgresql') {
    // Lock the thread's pending rows first: a second process claiming the same thread waits
    // for this transaction, then reads the lease written here and leaves the rows alone.
    // Not SKIP LOCKED: skipping a locked row would post a later one of the thread before it.
    await db.$queryRaw`SELECT 1 FROM "OutboxPost" WHERE "threadRef" = ${threadRef} AND "state" IS NULL
      ORDER BY "id" LIMIT ${limit} FOR UPDATE`;
  }
  const pending = await db.outboxPost.findMany({
    where: { threadRef, state: null },
    orderBy: { id: 'asc' },
    take: limit,
  });
  const due: typeof pending = [];
  for (const r of pending) {
    if (r.availableAt > now) break;
    if (r.claimedUntil && r.claimedUntil >= now && r.claimedBy !== owner) break;
    due.push(r);
  }
  if (!due.length) return [];
  const ids = due.map((r) => r.id);
  const until = new Date(now.getTime() + leaseMs);
  const count = await countInChunks(ids, (part) =>
    db.outboxPost.updateMany({
      where: {
        id: { in: part },
        state: null,
        OR: [{ claimedUntil: null }, { claimedUntil: { lt: now } }, { claimedBy: owner }],
      },
      data: { claimedBy: owner, claimedUntil: until },
    }),
  );
  if (count !== ids.length) {
    // Another process took some of them meanwhile: give back what we got, try later.
    await countInChunks(ids, (part) =>
      db.outboxPost.updateMany({
        where: { id: { in: part }, claimedBy: owner, state: null },
        data: { claimedBy: null, claimedUntil: null },
      }),
    );
    return [];
  }
  return due.map(strip);
}

/** Marks leased rows done. */
export async function finishOutbox(
  db: BotDb,
  ids: number[],
  owner: string,
  state: OutboxDone,
  now: Date,
  error?: string,
): Promise<void> {
  if (!ids.length) return;
  await botTx(db, (tx) =>
    countInChunks(ids, (part) =>
      tx.outboxPost.updateMany({
        where: { id: { in: part }, claimedBy: owner },
        data: { state, doneAt: now, claimedUntil: null, ...(error ? { lastError: error.slice(0, 500) } : {}) },
      }),
    ),
  );
}

/** A delivery failed: the rows wait until `retryAt`, with the attempt counted and the error kept. */
export async function retryOutbox(
  db: BotDb,
  ids: number[],
  owner: string,
  retryAt: Date,
  error: string,
): Promise<void> {
  if (!ids.length) return;
  await botTx(db, (tx) =>
    countInChunks(ids, (part) =>
      tx.outboxPost.updateMany({
        where: { id: { in: part }, claimedBy: owner },
        data: {
          attempts: { increment: 1 },
          availableAt: retryAt,
          claimedBy: null,
          claimedUntil: null,
          lastError: error.slice(0, 500),
        },
      }),
    ),
  );
}

/** Gives leased rows back untouched. */
export async function releaseOutbox(db: BotDb, ids: number[], owner: string): Promise<void> {
  if (!ids.length) return;
  await botTx(db, (tx) =>
    countInChunks(ids, (part) =>
      tx.outboxPost.updateMany({
        where: { id: { in: part }, claimedBy: owner, state: null },
        data: { claimedBy: null, claimedUntil: null },
      }),
    ),
  );
}

/** The final state of rows (null while pending), for callers waiting on their post. */
export async function outboxStates(db: BotDb, ids: number[]): Promise<Map<number, string | null>> {
  const rows = await inChunks(ids, (part) =>
    db.outboxPost.findMany({ where: { id: { in: part } }, select: { id: true, state: true } }),
  );
  return new Map(rows.map((r) => [r.id, r.state]));
}

/** Removes delivered rows older than `before` (the outbox is not an archive; the history is). */
export async function pruneOutbox(db: BotDb, before: Date): Promise<number> {
  const { count } = await botTx(db, (tx) =>
    tx.outboxPost.deleteMany({ where: { state: { not: null }, doneAt: { lt: before } } }),
  );
  return count;
}

function strip(r: OutboxRow & Record<string, unknown>): OutboxRow {
  return {
    id: r.id,
    threadRef: r.threadRef,
    itemId: r.itemId,
    address: r.address,
    kind: r.kind,
    message: r.message,
    replaceKey: r.replaceKey,
    solo: r.solo,
    attempts: r.attempts,
    availableAt: r.availableAt,
    createdAt: r.createdAt,
  };
}
