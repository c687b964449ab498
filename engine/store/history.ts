import type { Db } from './db.ts';
import type { Actor, ItemStatus } from '../domain/types.ts';
import { actorKey } from '../domain/types.ts';

/** A transaction client or the client itself. */
export type Tx = Omit<Db, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

/** One entry of the append-only history. */
export interface HistoryEntry {
  projectId: string;
  itemId?: string | null;
  address?: string | null;
  actor: Actor;
  kind: string;
  fromStatus?: ItemStatus | null;
  toStatus?: ItemStatus | null;
  detail?: Record<string, unknown>;
}

/** Appends to the history (never updated, never deleted: it outlives deleted items). */
export async function appendHistory(tx: Tx, e: HistoryEntry): Promise<void> {
  await tx.itemEvent.create({
    data: {
      projectId: e.projectId,
      itemId: e.itemId ?? null,
      address: e.address ?? null,
      actor: actorKey(e.actor) + (e.actor.name ? ` (${e.actor.name})` : ''),
      kind: e.kind,
      fromStatus: e.fromStatus ?? null,
      toStatus: e.toStatus ?? null,
      detail: JSON.stringify(e.detail ?? {}),
    },
  });
}

/** How many history events one item has (the history itself is read up to a limit). */
export async function itemHistoryCount(db: Tx, itemId: string): Promise<number> {
  return db.itemEvent.count({ where: { itemId } });
}

/** The history of one item, oldest first. */
export async function itemHistory(db: Tx, itemId: string, limit = 200) {
  const rows = await db.itemEvent.findMany({ where: { itemId }, orderBy: { id: 'desc' }, take: limit });
  return rows.reverse().map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}
