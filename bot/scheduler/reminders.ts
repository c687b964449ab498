import { readProjectOptions, type Engine, type Project } from '../../engine/engine.ts';
import type { EngineEvent } from '../../engine/events.ts';
import type { Outreach } from '../outreach/outreach.ts';
import type { Logger } from '../log.ts';
import type { BotDb } from '../store/bot-db.ts';
import {
  claimReminder,
  dropReminders,
  dueReminders,
  reminderItemIds,
  remindersOf,
  restartReminders,
  saveReminderRound,
  type ReminderClaim,
  type ReminderMove,
  type ReminderRow,
} from '../store/reminders.ts';

const DAY_MS = 86_400_000;

/**
 * How long after an item started waiting a request that was never sent is sent by the
 * scheduler: the outreach queue lives in memory, so requests still queued when MailFerry
 * stopped were not sent. Long enough for a running process to work through its own queue
 * (thousands of requests take minutes at most), so the two never both send one.
 */
export const UNSENT_GRACE_MS = 10 * 60_000;

/**
 * Days after a request when reminders go out: the project's `reminderDays`, default 1 and 3 (also when the stored value
 * is unreadable).
 */
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
  const next = times[passed];
  return { passed, nextAt: next === undefined ? null : new Date(next) };
}

/** What reminders need. */
export interface ReminderDeps {
  db: BotDb;
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
  const waiting = await d.engine.reads.waitingItems();
  const ids = waiting.map((i) => i.id);
  // Rows of items no longer waiting: found by difference (a `notIn` of every waiting id would not fit in one
  // statement).
  const waitingIds = new Set(ids);
  await dropReminders(
    d.db,
    (await reminderItemIds(d.db)).filter((id) => !waitingIds.has(id)),
  );
  if (!ids.length) return;
  const anchorOf = await d.engine.reads.lastWaitingAt(ids);
  const requestOf = await d.engine.reads.lastRequestAt(ids);
  const rows = new Map((await remindersOf(d.db, ids)).map((r) => [r.itemId, r]));
  const created: Pick<ReminderRow, 'itemId' | 'projectId' | 'anchorAt' | 'nextAt'>[] = [];
  const moved: ReminderMove[] = [];
  for (const i of waiting) {
    const anchor = anchorOf.get(i.id) ?? i.updatedAt;
    const row = rows.get(i.id);
    if (row && row.anchorAt.getTime() >= anchor.getTime()) continue;
    const first = reminderCadence(i.project)[0];
    // No request since it started waiting: due once the grace is over (sent then if still unsent).
    const unsent = (requestOf.get(i.id)?.getTime() ?? 0) < anchor.getTime();
    const nextAt = unsent
      ? new Date(anchor.getTime() + UNSENT_GRACE_MS)
      : first == null
        ? null
        : new Date(anchor.getTime() + first * DAY_MS);
    if (row) moved.push({ itemId: i.id, seen: row.anchorAt, anchor, nextAt });
    else created.push({ itemId: i.id, projectId: i.projectId, anchorAt: anchor, nextAt });
  }
  // One transaction for the round; rows another process created meanwhile stay.
  await saveReminderRound(d.db, moved, created);
}

/**
 * Sends the reminders that are due: each row is claimed with a conditional update (two
 * processes never remind twice), then the user is asked again through the channels of the
 * original request, with a new link. A due row of an item whose request was never sent
 * (MailFerry stopped with it still queued) sends that request instead, as a first request,
 * and the cadence starts from it. The requests of a round go through the outreach queue
 * as one batch: each thread gets one summary. Returns how many requests went out.
 */
export async function sendDueReminders(d: ReminderDeps): Promise<number> {
  const now = d.now();
  const due = await dueReminders(d.db, now);
  if (!due.length) return 0;
  const reminders = d.outreach.openBatch('reminder');
  const resumed = d.outreach.openBatch('resumed');
  const asks: Promise<unknown>[] = [];
  let sent = 0;
  let unsent = 0;
  try {
    for (const row of due) {
      // This process is still sending a request for it (a long queue): that one counts.
      if (d.outreach.isPending(row.itemId)) continue;
      const item = await d.engine.itemById(row.itemId);
      if (item?.status !== 'WaitingForUser') {
        await dropReminders(d.db, [row.itemId]);
        continue;
      }
      const cadence = reminderCadence(item.project);
      const lastRequest = (await d.engine.reads.lastRequestAt([item.id])).get(item.id);
      const asked = !!lastRequest && lastRequest.getTime() >= row.anchorAt.getTime();
      const { passed, nextAt } = cadenceAt(cadence, row.anchorAt, now);
      const claim = (data: ReminderClaim) => claimReminder(d.db, row, data);
      if (asked && passed <= row.sent) {
        // Due for a request that was then sent after all: only the cadence's next time.
        await claim({ sent: row.sent, nextAt });
        continue;
      }
      const first = cadence[0];
      const claimed = asked
        ? await claim({ sent: Math.max(passed, row.sent + 1), nextAt, lastAt: now })
        : await claim({
            sent: 0,
            anchorAt: now,
            lastAt: now,
            nextAt: first == null ? null : new Date(now.getTime() + first * DAY_MS),
          });
      if (!claimed) continue; // another process has it
      const sides = await d.engine.missingSides(item);
      if (!sides.length) continue;
      sent++;
      if (!asked) unsent++;
      const by = asked ? undefined : await requestedBy(d.engine, item.id, row.anchorAt);
      asks.push(
        d.outreach
          .request(item.id, sides, false, by, {
            reminder: asked,
            batch: asked ? reminders : resumed,
            threadRef: item.threadRef,
          })
          .catch((e) => {
            d.log.error('reminder failed', { item: item.id, error: e instanceof Error ? e.message : String(e) });
          }),
      );
    }
  } finally {
    await d.outreach.endBatch(reminders);
    await d.outreach.endBatch(resumed);
  }
  await Promise.all(asks);
  if (sent) d.log.info('reminders sent', { reminders: sent - unsent, unsentRequests: unsent });
  return sent;
}

/**
 * Who asked for an item's request, from the history entry that made it wait (`surface:id
 * (name)`): the admin's chat name, none for a console login, the system or the form (their
 * names mean nothing to a user).
 */
async function requestedBy(engine: Engine, itemId: string, anchor: Date): Promise<string | undefined> {
  const actor = await engine.reads.waitingActor(itemId, anchor);
  const m = actor?.match(/^([^:]+):(.*?)(?: \((.*)\))?$/);
  const [, surface = '', id, name] = m ?? [];
  if (!m || ['console', 'system', 'form'].includes(surface)) return undefined;
  return name ?? id;
}

/**
 * Stops reminders the moment an item leaves WaitingForUser (the user answered, the admin
 * stopped or deleted it): subscribe with `bus.on`. The scheduler's sync catches what a
 * listener in another process saw.
 */
export function reminderListener(db: BotDb): (e: EngineEvent) => Promise<void> {
  return async (e) => {
    if (
      (e.type === 'item.status' && e.from === 'WaitingForUser' && e.to !== 'WaitingForUser') ||
      e.type === 'item.deleted'
    )
      await dropReminders(db, [e.item.id]);
  };
}

/**
 * The user asked to be reminded tomorrow: the item's next reminder is due a day from
 * `now`, and the project's cadence continues from there (its row is anchored at `now`, so
 * the sync keeps it). Returns when the reminder is due.
 */
export async function remindTomorrow(db: BotDb, item: { id: string; projectId: string }, now: Date): Promise<Date> {
  const nextAt = new Date(now.getTime() + DAY_MS);
  await restartReminders(db, item, now, nextAt);
  return nextAt;
}
