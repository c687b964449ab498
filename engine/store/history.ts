import type { Tx } from './db.ts';
import type { Actor, ItemStatus } from '../domain/types.ts';
import { actorKey } from '../domain/types.ts';
import { insertJsonRows } from './insert-rows.ts';
import type { RawTx } from './dialect.ts';

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

function historyRow(e: HistoryEntry) {
  return {
    projectId: e.projectId,
    itemId: e.itemId ?? null,
    address: e.address ?? null,
    actor: actorKey(e.actor) + (e.actor.name ? ` (${e.actor.name})` : ''),
    kind: e.kind,
    fromStatus: e.fromStatus ?? null,
    toStatus: e.toStatus ?? null,
    detail: JSON.stringify(e.detail ?? {}),
  };
}

/** Appends to the history (never updated, never deleted: it outlives deleted items). */
export async function appendHistory(tx: Tx, e: HistoryEntry): Promise<void> {
  await tx.itemEvent.create({ data: historyRow(e) });
}

const HISTORY_COLUMNS = [
  'projectId',
  'itemId',
  'address',
  'actor',
  'kind',
  'fromStatus',
  'toStatus',
  'detail',
] as const;

/** Appends many entries with multi-row inserts (bulk commands), in the order given. */
export async function appendHistoryMany(tx: Pick<RawTx, '$executeRaw'>, entries: HistoryEntry[]): Promise<void> {
  await insertJsonRows(
    tx,
    'ItemEvent',
    [{ column: 'at', value: new Date(), pgType: 'TIMESTAMP(3)' }],
    HISTORY_COLUMNS,
    entries.map((e) => {
      const r = historyRow(e);
      return [r.projectId, r.itemId, r.address, r.actor, r.kind, r.fromStatus, r.toStatus, r.detail];
    }),
  );
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
