import { formatBytes, formatCount, formatTime } from './format.ts';

/** A pass's kind and date window as its figures keep them (`PassFigures.pass`). */
export interface PassKindView {
  type: string;
  days?: number;
  /** ISO instants: the pass copied mail received at or after `since` and before `before`. */
  since?: string;
  before?: string;
}

/** One pass that ended, as `status ADDRESS` lists it. */
export interface PassView {
  at: Date;
  /** The status the pass left the item in (Completed, Failed, Stopped, Queued when interrupted). */
  outcome: string;
  pass?: PassKindView;
  messagesCopied: number;
  bytesCopied: number;
  leftOut: number;
}

/** Reads a kind as stored in the history (a start's `prestage:30`) or in figures. */
export function passKindOfText(s: unknown): PassKindView | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^prestage:(\d+)$/.exec(s);
  return m ? { type: 'prestage', days: Number(m[1]) } : s === 'full' ? { type: 'full' } : undefined;
}

/**
 * `pre-stage (older than 30 days)`, `full`, with the date range when the pass had one: `full, mail from 2020-01-01 to
 * 2024-12-31`.
 */
export function passKindWords(p: PassKindView | undefined): string {
  if (!p) return 'full';
  const kind =
    p.type === 'prestage' && p.days ? `pre-stage (older than ${p.days} ${p.days === 1 ? 'day' : 'days'})` : 'full';
  // The range's own bounds (a pre-stage's cutoff is said by its kind).
  const day = (iso: string) => iso.slice(0, 10);
  const until = p.before && p.type !== 'prestage' ? day(new Date(Date.parse(p.before) - 1).toISOString()) : undefined;
  const range =
    p.since && until
      ? `mail from ${day(p.since)} to ${until}`
      : p.since
        ? `mail from ${day(p.since)}`
        : until
          ? `mail up to ${until}`
          : '';
  const since = p.type === 'prestage' && p.since ? `, mail from ${day(p.since)}` : '';
  return range ? `${kind}, ${range}` : `${kind}${since}`;
}

/** What a pass copied in a few words: `120 copied (3.1 MB), 80 left for a later pass`. */
export function passCopiedWords(p: Pick<PassView, 'messagesCopied' | 'bytesCopied' | 'leftOut'>): string {
  const left = p.leftOut ? `, ${formatCount(p.leftOut)} left for a later pass` : '';
  return `${formatCount(p.messagesCopied)} copied (${formatBytes(p.bytesCopied)})${left}`;
}

/**
 * One line of the passes list: `2026-11-30 09:00 — pre-stage (older than 30 days) — Completed — 120 copied (3.1 MB), 80
 * left for a later pass`.
 */
export function passLine(p: PassView, outcomeLabel: (s: string) => string, timeZone?: string): string {
  return (
    `${formatTime(p.at, timeZone)} — ${passKindWords(p.pass)} ` + `— ${outcomeLabel(p.outcome)} — ${passCopiedWords(p)}`
  );
}
