import type { Block, Message } from './model.ts';
import { formatClock, formatCount, formatTime, plural } from './format.ts';

/** Addresses listed in a reply before "…and N more". */
const LIST_LIMIT = 20;

function listed(lines: string[], more = 'more'): Block[] {
  if (!lines.length) return [];
  return [
    {
      type: 'list',
      items: lines.slice(0, LIST_LIMIT),
      ...(lines.length > LIST_LIMIT ? { more: `…and ${formatCount(lines.length - LIST_LIMIT)} ${more}` } : {}),
    },
  ];
}

/** A scheduled start (`start --at`): which mailboxes start when, in the project's zone and UTC. */
export interface ScheduledStartView {
  addresses: string[];
  at: Date;
  timeZone: string;
  /** Mailboxes that could not be scheduled, with why. */
  refused?: string[];
  /** The project's copy window (`22:00-06:00`) when the time falls outside it: the pass then waits for it. */
  windowClosed?: { window: string; opensAt: Date };
}

/** The reply to `start … --at`, and the anchor of the thread where the start will be posted. */
export function scheduledStartMessage(v: ScheduledStartView): Message {
  const when = formatTime(v.at, v.timeZone);
  const refused = v.refused ?? [];
  const head = v.addresses.length
    ? `Scheduled: ${plural(v.addresses.length, 'mailbox', 'mailboxes')} start ${when}.`
    : 'No mailbox was scheduled.';
  const wait = v.windowClosed
    ? `That is outside the copy window (${v.windowClosed.window}): copying ` +
      `begins when it opens, ${formatTime(v.windowClosed.opensAt, v.timeZone)}.`
    : undefined;
  const cancel =
    v.addresses.length === 1
      ? `\`/migrate stop ${v.addresses[0]}\` cancels it.`
      : '`/migrate stop ADDRESS` cancels one.';
  const lines = [head, ...(wait ? [wait] : []), ...(v.addresses.length ? [cancel] : [])];
  return {
    kind: 'start-scheduled',
    text: [...lines, ...v.addresses.slice(0, LIST_LIMIT), ...refused.slice(0, LIST_LIMIT)].join('\n'),
    tone: refused.length ? 'warning' : 'success',
    blocks: [
      { type: 'text', text: `📅 ${head}` },
      ...listed(v.addresses),
      ...(wait ? [{ type: 'context' as const, text: wait }] : []),
      ...listed(refused, 'more refused'),
      ...(v.addresses.length ? [{ type: 'context' as const, text: cancel }] : []),
    ],
  };
}

/**
 * `stop` of a mailbox whose start was scheduled: the scheduled start is cancelled (and, when it was also waiting or
 * queued, it is stopped).
 */
export function startCancelledMessage(
  address: string,
  at: Date,
  timeZone: string,
  alsoStopped: string | undefined,
): Message {
  const text =
    `${address}: its start scheduled for ${formatTime(at, timeZone)} ` +
    `is cancelled.${alsoStopped ? ` ${alsoStopped}` : ''}`;
  return { kind: 'start-cancelled', text, tone: 'success', blocks: [{ type: 'text', text: `🗓️ ${text}` }] };
}

/** Posted in the item's thread when a scheduled start came due but could not be made. */
export function scheduledStartRefusedPost(address: string, at: Date, timeZone: string, why: string): Message {
  const text = `${address} did not start as scheduled (${formatTime(at, timeZone)}): ${why}`;
  return { kind: 'start-refused', text, tone: 'warning', blocks: [{ type: 'text', text: `⚠️ ${text}` }] };
}

/** Where a project stands with its copy window, for status. */
export interface WindowView {
  /** `22:00-06:00`. */
  window: string;
  timeZone: string;
  open: boolean;
  /** The next closing (open) or opening (closed). */
  next: Date;
}

/** `22:00-06:00 Europe/Berlin: open now, closes 06:00` / `… closed now, opens 22:00`. */
export function windowLine(w: WindowView): string {
  const state = w.open
    ? `open now, closes ${formatClock(w.next, w.timeZone)}`
    : `closed now, opens ${formatTime(w.next, w.timeZone)}`;
  return `${w.window} ${w.timeZone}: ${state}`;
}

/** What waits on time for an item: a scheduled start, or the copy window. */
export interface ItemTimingView {
  timeZone: string;
  /** Its scheduled start. */
  startAt?: Date;
  /** Queued while the copy window is closed: when it opens, and whether a pass was paused (rather than not begun). */
  window?: { opensAt: Date; paused: boolean };
}

/**
 * `scheduled to start 2026-12-05 22:00 Europe/Berlin (21:00 UTC)` / `Paused until 22:00 (window)` / `waits for the copy
 * window (opens 22:00)`.
 */
export function timingText(t: ItemTimingView): string | undefined {
  if (t.startAt) return `scheduled to start ${formatTime(t.startAt, t.timeZone)}`;
  if (t.window)
    return t.window.paused
      ? `Paused until ${formatClock(t.window.opensAt, t.timeZone)} (window)`
      : `waits for the copy window (opens ${formatClock(t.window.opensAt, t.timeZone)})`;
  return undefined;
}

/**
 * Posted in the item's thread when the copy window closed on its pass: paused at a checkpoint, resumed when the window
 * opens.
 */
export function pausedPost(address: string, until: Date, timeZone: string, copiedSoFar?: string): Message {
  const text =
    `⏸️ ${address}: Paused until ${formatClock(until, timeZone)} (window). The ` +
    `copy window closed; the pass resumes from its last checkpoint when it ` +
    `opens, ${formatTime(until, timeZone)}.${copiedSoFar ? ` ${copiedSoFar} so far.` : ''}`;
  return { kind: 'item-paused', text, tone: 'info', blocks: [{ type: 'text', text }] };
}
