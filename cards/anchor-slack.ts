import type { Block, Message } from './model.ts';
import { countsLine, statusLabel } from './status.ts';
import { formatCount, formatTime, plural } from './format.ts';

/** What the live summary of a thread shows. */
export interface AnchorSummaryView {
  /** Items per status, for the items whose status posts go to this thread. */
  counts: Record<string, number>;
  /** A few items with their status (used when the original anchor is not known, e.g. after a restart). */
  items: { address: string; status: string }[];
  at: Date;
}

/**
 * The anchor message of a Slack thread, kept current: the message the command posted
 * (when known) followed by a live line of counts per status. Without the original (after a
 * restart), a summary of the thread's items stands in for it.
 */
export function liveAnchorMessage(original: Message | undefined, s: AnchorSummaryView, limit = 20): Message {
  const total = Object.values(s.counts).reduce((a, b) => a + b, 0);
  const live = `Now: ${countsLine(s.counts)} · updated ${formatTime(s.at)}`;
  const base: Block[] = original
    ? original.blocks
    : [
        { type: 'header', text: `Mailboxes in this thread: ${formatCount(total)}` },
        {
          type: 'list',
          items: s.items.slice(0, limit).map((i) => `${i.address} — ${statusLabel(i.status)}`),
          more: s.items.length > limit ? `…and ${formatCount(s.items.length - limit)} more` : undefined,
        },
      ];
  return {
    kind: original ? `${original.kind}-live` : 'thread-summary',
    text: `${original ? original.text : plural(total, 'mailbox', 'mailboxes')}\n${live}`,
    tone: original?.tone ?? 'info',
    blocks: [...base, { type: 'context', text: `📊 ${live}` }],
  };
}
