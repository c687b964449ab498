import { countInChunks, inChunks } from '../../engine/store/chunk.ts';
import { insertRows } from '../../engine/store/insert-rows.ts';
import { botTx, type BotDb } from './bot-db.ts';

/** The reminder bookkeeping of an item waiting for its user (the ItemReminder table). */
export interface ReminderRow {
  itemId: string;
  projectId: string;
  /** When the request being reminded about went out (a resend starts a new cadence). */
  anchorAt: Date;
  /** Reminders sent for that request so far. */
  sent: number;
  /** When the next reminder is due; null once the last one went out (the item is stalled). */
  nextAt: Date | null;
  lastAt: Date | null;
}

/** A row's cadence started again from a later request. */
export interface ReminderMove {
  itemId: string;
  /** The anchor this process saw (the row is moved only while it still has it). */
  seen: Date;
  anchor: Date;
  nextAt: Date | null;
}

/** What a claim writes into a due row. */
export interface ReminderClaim {
  sent: number;
  nextAt: Date | null;
  lastAt?: Date;
  anchorAt?: Date;
}

/** The items that have a row. */
export async function reminderItemIds(db: BotDb): Promise<string[]> {
  return (await db.itemReminder.findMany({ select: { itemId: true } })).map((r) => r.itemId);
}

/** The rows of the given items. */
export function remindersOf(db: BotDb, itemIds: readonly string[]): Promise<ReminderRow[]> {
  return inChunks(itemIds, (part) => db.itemReminder.findMany({ where: { itemId: { in: part } } }));
}

/** Rows whose next reminder is due at `now`, the earliest first. */
export function dueReminders(db: BotDb, now: Date): Promise<ReminderRow[]> {
  return db.itemReminder.findMany({ where: { nextAt: { lte: now } }, orderBy: { nextAt: 'asc' } });
}

/** Removes the rows of the given items (in one transaction). */
export async function dropReminders(db: BotDb, itemIds: readonly string[]): Promise<void> {
  if (!itemIds.length) return;
  await botTx(db, (tx) =>
    countInChunks(itemIds, (part) => tx.itemReminder.deleteMany({ where: { itemId: { in: part } } })),
  );
}

/**
 * Writes a round of the sync in one transaction (a start --all of thousands makes
 * thousands of rows): moved rows start their cadence again (each only while it still has
 * the anchor this process saw), new rows are added; a row another process created meanwhile
 * stays as it is.
 */
export async function saveReminderRound(
  db: BotDb,
  moved: readonly ReminderMove[],
  created: readonly Pick<ReminderRow, 'itemId' | 'projectId' | 'anchorAt' | 'nextAt'>[],
): Promise<void> {
  if (!moved.length && !created.length) return;
  await botTx(db, async (tx) => {
    for (const m of moved)
      await tx.itemReminder.updateMany({
        where: { itemId: m.itemId, anchorAt: m.seen },
        data: { anchorAt: m.anchor, sent: 0, nextAt: m.nextAt, lastAt: null },
      });
    await insertRows(
      tx,
      'ItemReminder',
      ['itemId', 'projectId', 'anchorAt', 'sent', 'nextAt'],
      created.map((c) => [c.itemId, c.projectId, c.anchorAt, 0, c.nextAt]),
      { skipExisting: true },
    );
  });
}

/**
 * Claims a due row with a conditional update: true when this process changed it from what
 * it read (`row`), so two processes never both remind.
 */
export async function claimReminder(db: BotDb, row: ReminderRow, data: ReminderClaim): Promise<boolean> {
  const { count } = await botTx(db, (tx) =>
    tx.itemReminder.updateMany({ where: { itemId: row.itemId, nextAt: row.nextAt, anchorAt: row.anchorAt }, data }),
  );
  return count === 1;
}

/** Starts an item's cadence again at `now` with its next reminder at `nextAt` (the row is made if missing). */
export async function restartReminders(
  db: BotDb,
  item: { id: string; projectId: string },
  now: Date,
  nextAt: Date,
): Promise<void> {
  await botTx(db, (tx) =>
    tx.itemReminder.upsert({
      where: { itemId: item.id },
      create: { itemId: item.id, projectId: item.projectId, anchorAt: now, sent: 0, nextAt },
      update: { anchorAt: now, sent: 0, nextAt, lastAt: null },
    }),
  );
}
