/**
 * The kinds of pass an item runs: `full` copies everything not yet copied; a pre-stage copies
 * only mail older than N days (by INTERNALDATE) and can be repeated, before the final full
 * pass. Kept on the item (`Item.passKind`: `full` or `prestage:N`) from `start` until the next
 * `start`, so a pass resumed after a restart is still of its kind.
 */
import type { ProjectOptions } from './project-options.ts';

export type PassKind = { type: 'full' } | { type: 'prestage'; days: number };

/** Longest pre-stage age, in days (ten years). */
export const MAX_PRESTAGE_DAYS = 3650;

const DAY_MS = 86_400_000;

/** The stored form: `full` or `prestage:N`. */
export function passKindText(k: PassKind): string {
  return k.type === 'full' ? 'full' : `prestage:${k.days}`;
}

/** Reads the stored form; anything else (an older row, a hand edit) is a full pass. */
export function parsePassKind(s: string | null | undefined): PassKind {
  const m = /^prestage:(\d+)$/.exec(s ?? '');
  const days = m ? Number(m[1]) : 0;
  return days >= 1 && days <= MAX_PRESTAGE_DAYS ? { type: 'prestage', days } : { type: 'full' };
}

/** The kind in words: `full` or `pre-stage (older than 30 days)`. */
export function passKindLabel(k: PassKind): string {
  return k.type === 'full' ? 'full' : `pre-stage (older than ${k.days} ${k.days === 1 ? 'day' : 'days'})`;
}

/** What a pass copied by date, as kept with its figures (history, status). */
export interface PassWindowView {
  /** `full` or `prestage`. */
  type: PassKind['type'];
  days?: number;
  /** ISO instants of the window the pass used: at or after `since`, before `before`. */
  since?: string;
  before?: string;
}

/** A day `YYYY-MM-DD` (UTC) as the instant it starts; undefined when not a real day. */
export function dayStart(day: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === day ? d : undefined;
}

/**
 * The INTERNALDATE window of a pass: the project's date range (`since` and `until` days,
 * both included, UTC) narrowed by a pre-stage's cutoff (N days before `now`). Undefined when
 * the pass copies every date.
 */
export function passWindow(
  kind: PassKind,
  options: Pick<ProjectOptions, 'since' | 'until'>,
  now: Date,
): { since?: Date; before?: Date } | undefined {
  const since = options.since ? dayStart(options.since) : undefined;
  const untilStart = options.until ? dayStart(options.until) : undefined;
  let before = untilStart ? new Date(untilStart.getTime() + DAY_MS) : undefined;
  if (kind.type === 'prestage') {
    const cutoff = new Date(now.getTime() - kind.days * DAY_MS);
    if (!before || cutoff < before) before = cutoff;
  }
  if (!since && !before) return undefined;
  return { ...(since ? { since } : {}), ...(before ? { before } : {}) };
}

/** The window as kept with a pass's figures. */
export function passWindowView(kind: PassKind, w: { since?: Date; before?: Date } | undefined): PassWindowView {
  return {
    type: kind.type,
    ...(kind.type === 'prestage' ? { days: kind.days } : {}),
    ...(w?.since ? { since: w.since.toISOString() } : {}),
    ...(w?.before ? { before: w.before.toISOString() } : {}),
  };
}
