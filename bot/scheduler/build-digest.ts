import type { Engine, Project } from '../../engine/engine.ts';
import type { DigestItem, WaitingEvent } from '../../engine/reads.ts';
import { STATUSES } from '../../engine/domain/types.ts';
import type { CompletedView, DigestView, FailedView, WaitingView } from '../../cards/digest.ts';
import { reasonText } from '../commands/shared.ts';
import { reminderCadence } from './reminders.ts';
import type { BotDb } from '../store/bot-db.ts';
import { lastDigestRun } from '../store/digest-plans.ts';
import { remindersOf } from '../store/reminders.ts';

/** Requests written within this much of each other belong to one round (one per recipient and channel). */
const ROUND_GAP_MS = 60_000;

function parse(detail: string): Record<string, unknown> {
  try {
    return JSON.parse(detail) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' ? Number(v) || 0 : 0;
}

/**
 * Gathers what the digest of a project shows at `now`, for the period since its last
 * digest (or its creation): counts and their change, waiting and stalled items (how long,
 * how often asked), failures and completions of the period, throughput, licenses. Reads the
 * items and their history through the engine, and the reminder bookkeeping and the last
 * DigestRun from the bot's tables.
 */
export async function buildDigest(
  d: { db: BotDb; engine: Engine },
  project: Project,
  now: Date,
  limit = 10,
): Promise<DigestView> {
  const { db, engine } = d;
  const p = await engine.projectById(project.id);
  if (!p) throw new Error(`project ${project.id} no longer exists`);
  const items = await engine.reads.digestItems(p.id);
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;
  for (const i of items) counts[i.status] = (counts[i.status] ?? 0) + 1;
  const last = await lastDigestRun(db, p.id);
  const since = last?.at ?? p.createdAt;
  const waiting = await waitingViews(d, p, items, now);
  const { failed, completed, throughput } = await periodViews(engine, p, items, since, now);
  return {
    projectName: p.name,
    now,
    since,
    sinceDigest: !!last,
    counts,
    previousCounts: last ? (parse(last.counts) as Record<string, number>) : undefined,
    waiting,
    failed,
    completed,
    throughput,
    licenses: {
      total: p.licensesTotal,
      used: p.licensesUsed,
      left: p.licensesTotal == null ? null : p.licensesTotal - p.licensesUsed,
    },
    limit,
  };
}

/**
 * The project's waiting items: since when (the latest move into WaitingForUser from elsewhere),
 * asked how often, stalled. Users no request reached yet first (MailFerry stopped with theirs
 * queued), then the longest waiting.
 */
async function waitingViews(
  d: { db: BotDb; engine: Engine },
  p: Project,
  items: DigestItem[],
  now: Date,
): Promise<WaitingView[]> {
  const waitingItems = items.filter((i) => i.status === 'WaitingForUser');
  const ids = waitingItems.map((i) => i.id);
  // Events of one item come in order, which is all `waitingView` needs.
  const events = await d.engine.reads.waitingEvents(ids);
  const reminders = await remindersOf(d.db, ids);
  const reminderOf = new Map(reminders.map((r) => [r.itemId, r]));
  const cadence = reminderCadence(p);
  const byItem = new Map<string, typeof events>();
  for (const e of events) {
    const list = byItem.get(e.itemId!) ?? [];
    list.push(e);
    byItem.set(e.itemId!, list);
  }
  const waiting: WaitingView[] = waitingItems.map((i) => {
    const evs = byItem.get(i.id) ?? [];
    const entered = [...evs]
      .reverse()
      .find((e) => e.toStatus === 'WaitingForUser' && e.fromStatus !== 'WaitingForUser');
    const from = entered?.at ?? evs[0]?.at ?? now;
    const r = reminderOf.get(i.id);
    return {
      address: i.sourceAddress,
      waitingMs: Math.max(0, now.getTime() - from.getTime()),
      asked: roundsAsked(evs, from),
      stalled: !!r && cadence.length > 0 && r.nextAt == null && r.sent >= cadence.length,
    };
  });
  waiting.sort(
    (a, b) =>
      Number(a.asked > 0) - Number(b.asked > 0) || b.waitingMs - a.waitingMs || a.address.localeCompare(b.address),
  );
  return waiting;
}

/** How many rounds of credential requests an item's events show since `from`. */
function roundsAsked(evs: WaitingEvent[], from: Date): number {
  let asked = 0;
  let prev = -Infinity;
  for (const e of evs) {
    if (e.at < from || (e.kind !== 'request.sent' && e.kind !== 'request.failed')) continue;
    if (e.at.getTime() - prev > ROUND_GAP_MS) asked++;
    prev = e.at.getTime();
  }
  return asked;
}

/**
 * The period's moves into Failed and Completed, and the passes that ended in it: the failures
 * still to chase, the completions (most bytes first) and the throughput.
 */
async function periodViews(
  engine: Engine,
  p: Project,
  items: DigestItem[],
  since: Date,
  now: Date,
): Promise<Pick<DigestView, 'failed' | 'completed' | 'throughput'>> {
  const period = await engine.reads.periodEvents(p.id, since, now);
  const itemById = new Map(items.map((i) => [i.id, i]));
  const failed = new Map<string, FailedView>();
  const completed = new Map<string, CompletedView>();
  const throughput = {
    messages: 0,
    bytes: 0,
    passes: 0,
    periodMs: Math.max(0, now.getTime() - since.getTime()),
    copyingMs: 0,
  };
  /** When passes ran (end − duration … end), to rate the copy by the time it ran, not the time users took to answer. */
  const busy: [number, number][] = [];
  for (const e of period) {
    const d = parse(e.detail);
    const key = e.itemId ?? e.address ?? '';
    const figures = (d.figures ?? {}) as Record<string, unknown>;
    if (e.kind.startsWith('pass-')) {
      throughput.passes++;
      throughput.messages += num(figures.messagesCopied);
      throughput.bytes += num(figures.bytesCopied);
      const end = e.at.getTime();
      busy.push([Math.max(since.getTime(), end - num(figures.durationMs)), end]);
    }
    if (e.toStatus === 'Failed') {
      completed.delete(key);
      failed.delete(key); // re-insert: latest failure last
      failed.set(key, {
        address: e.address ?? '?',
        reasonText: reasonText(typeof d.reason === 'string' ? d.reason : null) ?? 'unknown reason',
        detail: typeof d.detail === 'string' ? d.detail : undefined,
      });
    } else if (e.toStatus === 'Completed') {
      failed.delete(key);
      completed.delete(key);
      const item = e.itemId ? itemById.get(e.itemId) : undefined;
      // The item's totals (every pass) when it still exists; else the figures of the completing pass.
      completed.set(key, {
        address: e.address ?? '?',
        messages: item ? item.messagesCopied : num(figures.messagesCopied),
        bytes: item ? Number(item.bytesCopied) : num(figures.bytesCopied),
      });
    }
  }
  dropFixed(failed, itemById);
  return {
    failed: [...failed.values()],
    completed: [...completed.values()].sort((a, b) => b.bytes - a.bytes || a.address.localeCompare(b.address)),
    throughput: { ...throughput, copyingMs: unionMs(busy) },
  };
}

/**
 * Drops the failures of items fixed since (now running or done: not a failure to chase), and
 * gives the others their item's current failure.
 */
function dropFixed(failed: Map<string, FailedView>, itemById: Map<string, DigestItem>): void {
  for (const [key, f] of failed) {
    const item = itemById.get(key);
    if (item && item.status !== 'Failed') failed.delete(key);
    else if (item?.failureReason)
      failed.set(key, {
        ...f,
        reasonText: reasonText(item.failureReason) ?? f.reasonText,
        detail: item.failureDetail ?? f.detail,
      });
  }
}

/** Length of the union of time intervals (passes run side by side: overlapping time counts once). */
export function unionMs(intervals: [number, number][]): number {
  let total = 0;
  let reach = -Infinity;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (b <= reach) continue;
    total += b - Math.max(a, reach);
    reach = b;
  }
  return total;
}
