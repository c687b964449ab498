import type { Db } from '../../engine/store/db.ts';
import { readProjectOptions, type Engine, type Project } from '../../engine/engine.ts';
import type { EngineEvent } from '../../engine/events.ts';
import type { Outreach } from '../outreach/outreach.ts';
import type { Logger } from '../log.ts';
import { ownTx } from '../../engine/store/outbox.ts';
import { countInChunks, inChunks } from '../../engine/store/chunk.ts';
import { insertRows, type Cell } from '../../engine/store/insert-rows.ts';

const DAY_MS = 86_400_000;

/** Days after a request when reminders go out: the project's `reminderDays`, default 1 and 3 (also when the stored value is unreadable). */
export function reminderCadence(p: Pick<Project, 'options'>): number[] {
  const days = readProjectOptions(p.options).options.reminderDays ?? [1, 3];
  return [...new Set(days.filter((d) => typeof d === 'number' && d > 0))].sort((a, b) => a - b);
}

/**
 * Where a cadence stands at `now` for a request sent at `anchor`: how many of its reminder
 * times have passed, and when the next one is due (null after the last). Missed times
 * count as passed, so a server that was down sends one reminder on start, not one per
 * missed time.
 */
export function cadenceAt(cadence: number[], anchor: Date, now: Date): { passed: number; nextAt: Date | null } {
  const times = cadence.map((d) => anchor.getTime() + d * DAY_MS);
  const passed = times.filter((t) => t <= now.getTime()).length;
  return { passed, nextAt: passed < times.length ? new Date(times[passed]) : null };
}

/** What reminders need. */
export interface ReminderDeps {
  db: Db;
  engine: Engine;
  outreach: Outreach;
  log: Logger;
  now: () => Date;
}

/**
 * Brings the reminder bookkeeping in line with the items: a row for every item waiting for
 * its user, anchored at the latest request (a resend or a partial answer starts the cadence
 * again); rows of items that are no longer waiting are removed.
 */
export async function syncReminders(d: ReminderDeps): Promise<void> {
  const waiting = await d.db.item.findMany({ where: { status: 'WaitingForUser' }, select: { id: true, projectId: true, updatedAt: true, project: { select: { options: true } } } });
  const ids = waiting.map((i) => i.id);
  // Rows of items no longer waiting: found by difference (a `notIn` of every waiting id would not fit in one statement).
  const waitingIds = new Set(ids);
  const stale = (await d.db.itemReminder.findMany({ select: { itemId: true } })).map((r) => r.itemId).filter((id) => !waitingIds.has(id));
  if (stale.length) await ownTx(d.db, (tx) => countInChunks(stale, (part) => tx.itemReminder.deleteMany({ where: { itemId: { in: part } } })));
  if (!ids.length) return;
  const anchors = await inChunks(ids, (part) => d.db.itemEvent.groupBy({ by: ['itemId'], where: { itemId: { in: part }, toStatus: 'WaitingForUser' }, _max: { at: true } }));
  const anchorOf = new Map(anchors.map((a) => [a.itemId!, a._max.at]));
  const rows = new Map((await inChunks(ids, (part) => d.db.itemReminder.findMany({ where: { itemId: { in: part } } }))).map((r) => [r.itemId, r]));
  const created: Cell[][] = [];
  const moved: { itemId: string; seen: Date; anchor: Date; nextAt: Date | null }[] = [];
  for (const i of waiting) {
    const anchor = anchorOf.get(i.id) ?? i.updatedAt;
    const row = rows.get(i.id);
    if (row && row.anchorAt.getTime() >= anchor.getTime()) continue;
    const first = reminderCadence(i.project)[0];
    const nextAt = first == null ? null : new Date(anchor.getTime() + first * DAY_MS);
    if (row) moved.push({ itemId: i.id, seen: row.anchorAt, anchor, nextAt });
    else created.push([i.id, i.projectId, anchor, 0, nextAt]);
  }
  if (!created.length && !moved.length) return;
  // One transaction for the round (a start --all of thousands makes thousands of rows).
  await ownTx(d.db, async (tx) => {
    for (const m of moved) await tx.itemReminder.updateMany({ where: { itemId: m.itemId, anchorAt: m.seen }, data: { anchorAt: m.anchor, sent: 0, nextAt: m.nextAt, lastAt: null } });
    // Another process may have created some meanwhile: theirs stay.
    await insertRows(tx, 'ItemReminder', ['itemId', 'projectId', 'anchorAt', 'sent', 'nextAt'], created, { skipExisting: true });
  });
}

/**
 * Sends the reminders that are due: each row is claimed with a conditional update (two
 * processes never remind twice), then the user is asked again through the channels of the
 * original request, with a new link. Returns how many reminders went out.
 */
export async function sendDueReminders(d: ReminderDeps): Promise<number> {
  const now = d.now();
  const due = await d.db.itemReminder.findMany({ where: { nextAt: { lte: now } }, orderBy: { nextAt: 'asc' } });
  let sent = 0;
  for (const row of due) {
    const item = await d.engine.itemById(row.itemId);
    if (!item || item.status !== 'WaitingForUser') {
      await ownTx(d.db, (tx) => tx.itemReminder.deleteMany({ where: { itemId: row.itemId } }));
      continue;
    }
    const { passed, nextAt } = cadenceAt(reminderCadence(item.project), row.anchorAt, now);
    const { count } = await ownTx(d.db, (tx) =>
      tx.itemReminder.updateMany({
        where: { itemId: row.itemId, nextAt: row.nextAt, anchorAt: row.anchorAt },
        data: { sent: Math.max(passed, row.sent + 1), nextAt, lastAt: now },
      }),
    );
    if (count !== 1) continue; // another process has it
    const sides = await d.engine.missingSides(item);
    if (!sides.length) continue;
    try {
      const reached = await d.outreach.request(item.id, sides, false, undefined, true);
      sent++;
      d.log.info('reminder sent', { item: item.id, reminder: Math.max(passed, row.sent + 1), reached: reached.filter((r) => r.ok).length, last: nextAt == null });
    } catch (e) {
      d.log.error('reminder failed', { item: item.id, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return sent;
}

/**
 * Stops reminders the moment an item leaves WaitingForUser (the user answered, the admin
 * stopped or deleted it): subscribe with `bus.on`. The scheduler's sync catches what a
 * listener in another process saw.
 */
export function reminderListener(db: Db): (e: EngineEvent) => Promise<void> {
  return async (e) => {
    if ((e.type === 'item.status' && e.from === 'WaitingForUser' && e.to !== 'WaitingForUser') || e.type === 'item.deleted')
      await ownTx(db, (tx) => tx.itemReminder.deleteMany({ where: { itemId: e.item.id } }));
  };
}
