import type { RequestSummaryView } from '../../cards/item-posts.ts';

/** One recipient's outcome on one channel. */
export interface Reached {
  recipient: string;
  /** How it went, as the thread says it (`email`, `Slack DM to @alice`). */
  via: string;
  ok: boolean;
  why?: string;
  /** The channel as a summary counts it (`email`, `Slack DM`, `Teams chat`). */
  channel?: string;
  /** Sends tried (more than one after a transient failure; 0 when the channel was paused). */
  attempts?: number;
}

/** The line of one outcome, as the thread shows it. */
export function reachedLine(r: Reached): string {
  return r.ok
    ? `asked ${r.recipient} by ${r.via}`
    : `could not reach ${r.recipient} by ${r.via}: ${r.why ?? 'unknown error'}`;
}

/**
 * Adds up the outcomes of a batch of credential requests for one thread: people asked,
 * reached per channel, not delivered, not sent; keeps the first lines (failures first) and
 * counts the rest, so memory and the post stay bounded whatever the batch.
 */
export class RequestTally {
  private total = 0;
  private byChannel: Record<string, number> = {};
  private notDelivered = 0;
  private notSent = 0;
  private failed: string[] = [];
  private others: string[] = [];
  private lineCount = 0;

  constructor(private limit = 15) {}

  /** Adds what one item's request did (one or more recipients, each on one or more channels). */
  add(reached: Reached[]): void {
    const byRecipient = new Map<string, Reached[]>();
    for (const r of reached) byRecipient.set(r.recipient, [...(byRecipient.get(r.recipient) ?? []), r]);
    for (const list of byRecipient.values()) {
      this.total++;
      const ok = list.filter((r) => r.ok);
      for (const r of ok) this.byChannel[r.channel ?? r.via] = (this.byChannel[r.channel ?? r.via] ?? 0) + 1;
      if (!ok.length) this.notDelivered++;
      for (const r of list) {
        this.lineCount++;
        const keep = ok.length ? this.others : this.failed;
        if (keep.length < this.limit) keep.push(reachedLine(r));
      }
    }
  }

  /** Counts a request MailFerry stopped before sending (it goes out after the next start). */
  addNotSent(): void {
    this.total++;
    this.notSent++;
  }

  /** Whether anything was added. */
  get empty(): boolean {
    return this.total === 0;
  }

  /** The summary, for `credentialsRequestedSummaryPost`. */
  view(kind: RequestSummaryView['kind']): RequestSummaryView {
    return {
      kind,
      total: this.total,
      byChannel: { ...this.byChannel },
      notDelivered: this.notDelivered,
      notSent: this.notSent,
      lines: [...this.failed, ...this.others].slice(0, this.limit),
      lineCount: this.lineCount,
    };
  }
}
