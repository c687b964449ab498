import { storedStatus } from './domain/types.ts';
import type { Db } from './store/db.ts';
import type { Project } from '../generated/prisma/client.ts';
import type { ItemStatus } from './domain/types.ts';
import { inChunks } from './store/chunk.ts';

/**
 * Reads of projects, items and their history that the bot's scheduler builds on (digests,
 * reminders): the bot never queries the engine's tables itself. Every query over a list of
 * items runs in parts (`inChunks`), so it holds for any number of mailboxes.
 */

/** History kinds that say a credential request was made (sent, or tried and not delivered). */
export const REQUEST_KINDS = ['request.sent', 'request.failed'] as const;

/** History kinds of a pass's end that a digest counts. */
const DIGEST_PASS_KINDS = ['pass-completed', 'pass-failed', 'pass-stopped'];

/** An item as a digest shows it: its status, its failure and its totals over every pass. */
export interface DigestItem {
  id: string;
  sourceAddress: string;
  status: ItemStatus;
  failureReason: string | null;
  failureDetail: string | null;
  messagesCopied: number;
  bytesCopied: bigint;
}

/** A history entry, as the scheduler reads it (`detail` is the stored JSON). */
export interface HistoryEvent {
  itemId: string | null;
  address: string | null;
  at: Date;
  kind: string;
  fromStatus: string | null;
  toStatus: string | null;
  detail: string;
}

/** A history entry of a waiting item: its moves and its requests (`waitingEvents`). */
export type WaitingEvent = Omit<HistoryEvent, 'address' | 'detail'>;

/** An item waiting for its user, with its project's options (the reminder cadence). */
export interface WaitingItem {
  id: string;
  projectId: string;
  updatedAt: Date;
  project: Pick<Project, 'options'>;
}

/** The read model (`Engine.reads`). */
export type ReadModel = ReturnType<typeof readModel>;

/** The read model over a database. */
export function readModel(db: Db) {
  return {
    /** The thread references of items that start with `prefix` (each once). */
    itemThreads: async (prefix: string): Promise<string[]> =>
      (
        await db.item.findMany({
          where: { threadRef: { startsWith: prefix } },
          select: { threadRef: true },
          distinct: ['threadRef'],
        })
      ).flatMap((r) => (r.threadRef ? [r.threadRef] : [])),

    /** Every project, oldest first. */
    projectsByAge: (): Promise<Project[]> => db.project.findMany({ orderBy: { createdAt: 'asc' } }),

    /** Every item of a project, as a digest shows it. */
    digestItems: (projectId: string): Promise<DigestItem[]> => digestItems(db, projectId),

    /**
     * The events of the given items that matter while they wait: each move into
     * WaitingForUser and each credential request. Oldest first within each item (the parts
     * of the list are read one after the other, each in id order).
     */
    waitingEvents: (itemIds: readonly string[]): Promise<WaitingEvent[]> => waitingEvents(db, itemIds),

    /**
     * A project's events in (`after`, `until`]: moves into Failed or Completed and the ends
     * of passes, oldest first.
     */
    periodEvents: (projectId: string, after: Date, until: Date): Promise<HistoryEvent[]> =>
      periodEvents(db, projectId, after, until),

    /** Every item waiting for its user, in every project. */
    waitingItems: (): Promise<WaitingItem[]> =>
      db.item.findMany({
        where: { status: 'WaitingForUser' },
        select: { id: true, projectId: true, updatedAt: true, project: { select: { options: true } } },
      }),

    /** When each of the given items last moved into WaitingForUser (items with no such move are absent). */
    lastWaitingAt: (itemIds: readonly string[]) => latestAt(db, itemIds, { toStatus: 'WaitingForUser' }),

    /** When each of the given items' last credential request was made (items never asked are absent). */
    lastRequestAt: (itemIds: readonly string[]) => latestAt(db, itemIds, { kind: { in: [...REQUEST_KINDS] } }),

    /**
     * Who made an item wait (its latest move into WaitingForUser at or before `notAfter`),
     * as the history names actors: `surface:id (name)`.
     */
    waitingActor: (itemId: string, notAfter: Date): Promise<string | undefined> => waitingActor(db, itemId, notAfter),
  };
}

/** Latest `at` per item of the events matching `where`, in parts of the ids. */
async function latestAt(db: Db, ids: readonly string[], where: object): Promise<Map<string, Date>> {
  const rows = await inChunks(ids, (part) =>
    db.itemEvent.groupBy({ by: ['itemId'], where: { itemId: { in: part }, ...where }, _max: { at: true } }),
  );
  const out = new Map<string, Date>();
  for (const r of rows) if (r.itemId && r._max.at) out.set(r.itemId, r._max.at);
  return out;
}

/** The query of `ReadModel.digestItems`. */
async function digestItems(db: Db, projectId: string): Promise<DigestItem[]> {
  const rows = await db.item.findMany({
    where: { projectId },
    select: {
      id: true,
      sourceAddress: true,
      status: true,
      failureReason: true,
      failureDetail: true,
      messagesCopied: true,
      bytesCopied: true,
    },
  });
  return rows.map((r) => ({ ...r, status: storedStatus(r.status) }));
}

/** The query of `ReadModel.waitingEvents`. */
function waitingEvents(db: Db, itemIds: readonly string[]): Promise<WaitingEvent[]> {
  return inChunks(itemIds, (part) =>
    db.itemEvent.findMany({
      where: {
        itemId: { in: part },
        OR: [{ toStatus: 'WaitingForUser' }, { kind: { in: [...REQUEST_KINDS] } }],
      },
      orderBy: { id: 'asc' },
      select: { itemId: true, at: true, kind: true, fromStatus: true, toStatus: true },
    }),
  );
}

/** The query of `ReadModel.periodEvents`. */
function periodEvents(db: Db, projectId: string, after: Date, until: Date): Promise<HistoryEvent[]> {
  return db.itemEvent.findMany({
    where: {
      projectId,
      at: { gt: after, lte: until },
      OR: [{ toStatus: { in: ['Failed', 'Completed'] } }, { kind: { in: DIGEST_PASS_KINDS } }],
    },
    orderBy: { id: 'asc' },
    select: { itemId: true, address: true, at: true, kind: true, fromStatus: true, toStatus: true, detail: true },
  });
}

/** The query of `ReadModel.waitingActor`. */
async function waitingActor(db: Db, itemId: string, notAfter: Date): Promise<string | undefined> {
  const e = await db.itemEvent.findFirst({
    where: { itemId, toStatus: 'WaitingForUser', at: { lte: notAfter } },
    orderBy: { at: 'desc' },
    select: { actor: true },
  });
  return e?.actor;
}
