import { storedSides } from '../../engine/domain/types.ts';
import { LEASE_OWNER, leaseHolderGone, type Engine, type Item } from '../../engine/engine.ts';
import type { EngineEvent, ItemStatusEvent, PassFigures } from '../../engine/events.ts';
import type { BotDb, BotTx } from '../store/bot-db.ts';
import { faultPoint } from '../../engine/fault-point.ts';
import {
  claimThreadPosts,
  enqueueOutbox,
  finishOutbox,
  releaseClaimsOfGone,
  releaseOutbox,
  threadsWithDuePosts,
  type OutboxRow,
} from '../store/outbox.ts';
import { readProjectOptions } from '../../engine/domain/project-options.ts';
import { SYSTEM_ACTOR, sidesOf } from '../../engine/domain/types.ts';
import { COMPLETION_NOTICE_SUBJECT, completionNoticeMessage } from '../../cards/completion-notice.ts';
import { organisationOf } from '../organisation.ts';
import type { Logger } from '../log.ts';
import type { Outreach } from './outreach.ts';

/** History kind of a completion notice that reached its person (the "already told" mark). */
export const NOTICE_SENT = 'completion-notice.sent';

/**
 * Completion notices wait in the outbox table until sent, as rows of the pseudo-thread
 * `notice:ITEM_ID` (no chat surface is called `notice`, so the notifier never takes them).
 * The outbox's claims (a conditional update with a lease) make one process send each.
 */
export const NOTICE_SURFACE = 'notice';
/** Outbox kind of a completion notice row. */
const NOTICE_KIND = 'completion-notice';
/**
 * How long a claimed notice is this process's alone: long enough for the outreach queue's
 * retries and a long queue of requests before it. A process on this host that died frees
 * its claims at once (`leaseHolderGone`); one on another host frees them when this runs out.
 */
const NOTICE_LEASE_MS = 30 * 60_000;
/** How often `serve` looks for notices left unsent (by a process that stopped or died). */
const RESUME_EVERY_MS = 60_000;

const noticeThread = (itemId: string) => `${NOTICE_SURFACE}:${itemId}`;
const isCompletion = (e: EngineEvent): e is ItemStatusEvent =>
  e.type === 'item.status' && e.to === 'Completed' && e.from === 'Running';

/** What a notice row keeps of its pass: what `notify` decides on. */
interface NoticeRow {
  copied: number;
  prestage: boolean;
}

/** Why a completion produced no notice, or who got it. */
export type NoticeOutcome =
  | { sent: { recipient: string; via: string; ok: boolean; why?: string }[] }
  | { skipped: 'off' | 'nothing-new' | 'not-completed' | 'prestage' };

/**
 * The server end users know their new mailbox by: the host (and port) of the destination
 * URL, "Microsoft 365" for `m365://`. Never the URL itself (it could carry a user).
 */
export function destinationServerOf(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol === 'm365:') return 'Microsoft 365';
    return u.port ? `${u.hostname}:${u.port}` : u.hostname;
  } catch {
    return 'the new mail server';
  }
}

/**
 * Tells end users their mailbox has been copied, when a pass completes: what was copied,
 * where it now lives, whom to ask if something is missing. Sent through the outreach's
 * channels (the item's `--notify`, email the fallback) to the addresses the item asks.
 *
 * When: after the first pass that completes, and after a later pass that copied new
 * mail; a delta pass that found nothing new stays silent, so repeated passes during a
 * cutover do not flood the user. Off per project (`project set --completion-notice off`).
 *
 * Durable: the notice is queued in the completion's own transaction and sent once, by the
 * process that completed the pass or, when that one stopped or died first, by the next
 * `serve` (`resume`); several processes on one database never both send it. A crash in the
 * instant between the send and its mark would send it again: once delivered, it is marked.
 */
export class CompletionNotices {
  /** Items whose notices this process is sending now (its claims are its own: never two loops on one). */
  private sending = new Set<string>();
  private work = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private engine: Engine,
    private db: BotDb,
    private outreach: Outreach,
    private log: Logger,
    private install: { name?: string; support?: string } = {},
    private owner = LEASE_OWNER,
  ) {}

  /**
   * Durable notices: the completion's transaction writes the notice into the outbox (kept or
   * lost with the completion), and after the commit this process claims and sends it. One
   * still unsent when a process stops or dies is sent by `resume`. Returns the unsubscribe.
   */
  attach(): () => void {
    const offHook = this.engine.onStatusChange((tx, e) => this.enqueue(tx, e));
    const offBus = this.engine.bus.on((e) => this.onEvent(e));
    return () => {
      offHook();
      offBus();
    };
  }

  /** Writes the notice of a completed pass, inside the completion's transaction. */
  private async enqueue(tx: BotTx, e: ItemStatusEvent): Promise<void> {
    if (!isCompletion(e)) return;
    const row: NoticeRow = { copied: e.figures?.messagesCopied ?? 0, prestage: e.figures?.pass?.type === 'prestage' };
    await enqueueOutbox(
      tx,
      { threadRef: noticeThread(e.item.id), itemId: e.item.id, kind: NOTICE_KIND, message: JSON.stringify(row) },
      this.engine.now(),
    );
  }

  /** Handles engine events: a pass that ended `Completed` has its notice sent. */
  async onEvent(e: EngineEvent): Promise<void> {
    if (!isCompletion(e)) return;
    // Test fault point: the completion (and its notice row) committed, the notice not sent.
    faultPoint('before-completion-notice');
    await this.track(this.sendQueued(e.item.id));
  }

  /**
   * Sends the notices left unsent: by a process that stopped with them queued, or died
   * between a completion and its notice. Claims held by a dead process of this host are
   * freed first. `serve` runs it at start and every minute (`startResume`).
   */
  async resume(): Promise<void> {
    await releaseClaimsOfGone(this.db, [NOTICE_SURFACE], (owner) => leaseHolderGone(owner, this.owner));
    for (const thread of await threadsWithDuePosts(this.db, this.engine.now(), [NOTICE_SURFACE])) {
      if (this.closed) return;
      await this.track(this.sendQueued(thread.slice(NOTICE_SURFACE.length + 1)));
    }
  }

  /** `resume` now and every minute until `close`. */
  startResume(): void {
    const tick = () =>
      void this.resume().catch((e) =>
        this.log.error('completion notices not resumed', { error: e instanceof Error ? e.message : String(e) }),
      );
    tick();
    this.timer = setInterval(tick, RESUME_EVERY_MS);
    this.timer.unref();
  }

  /** Stops resuming and waits for the sends under way; a notice the stopped outreach did not send stays queued. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    while (this.work.size) await Promise.all([...this.work]);
  }

  private async track(p: Promise<void>): Promise<void> {
    this.work.add(p);
    try {
      await p;
    } finally {
      this.work.delete(p);
    }
  }

  /** Claims the queued notices of an item (none when another process holds them) and sends each. */
  private async sendQueued(itemId: string): Promise<void> {
    if (this.sending.has(itemId) || this.closed) return;
    this.sending.add(itemId);
    try {
      // Again until none is left: a notice queued meanwhile (a later pass) is sent too.
      for (;;) {
        const rows = await claimThreadPosts(
          this.db,
          noticeThread(itemId),
          this.owner,
          this.engine.now(),
          NOTICE_LEASE_MS,
        );
        if (!rows.length) return;
        for (const [i, row] of rows.entries()) {
          if (!(await this.sendRow(itemId, row))) {
            // Stopping, or an error: this one and the rest go back to the queue for a later try.
            await releaseOutbox(
              this.db,
              rows.slice(i).map((r) => r.id),
              this.owner,
            );
            return;
          }
        }
      }
    } finally {
      this.sending.delete(itemId);
    }
  }

  /** Sends one claimed notice and marks it done; false when it was given back unsent (stopping, or an error). */
  private async sendRow(itemId: string, row: OutboxRow): Promise<boolean> {
    let r: NoticeOutcome;
    try {
      const n = JSON.parse(row.message) as NoticeRow;
      r = await this.notify(itemId, { messagesCopied: n.copied, prestage: n.prestage });
    } catch (e) {
      this.log.error('completion notice failed', { item: itemId, error: e instanceof Error ? e.message : String(e) });
      return false;
    }
    const now = this.engine.now();
    if ('skipped' in r) {
      this.log.info('completion notice not sent', { item: itemId, why: r.skipped });
      await finishOutbox(this.db, [row.id], this.owner, 'superseded', now);
      return true;
    }
    if (this.outreach.stopped && !r.sent.some((s) => s.ok)) return false;
    const ok = r.sent.some((s) => s.ok);
    await finishOutbox(this.db, [row.id], this.owner, ok ? 'sent' : 'dead', now, ok ? undefined : 'not delivered');
    return true;
  }

  /**
   * Sends the notice of an item that completed a pass with these figures (when due): the
   * pass's figures, or what a queued notice kept of them.
   */
  async notify(
    itemId: string,
    figures?: Pick<PassFigures, 'messagesCopied'> & { pass?: PassFigures['pass']; prestage?: boolean },
  ): Promise<NoticeOutcome> {
    const item = await this.engine.itemById(itemId);
    if (item?.status !== 'Completed') return { skipped: 'not-completed' };
    if (readProjectOptions(item.project.options).options.completionNotice === false) return { skipped: 'off' };
    // A pre-stage copied old mail only: the user hears when the full pass has copied the rest.
    if (figures?.prestage || figures?.pass?.type === 'prestage') return { skipped: 'prestage' };
    const told = (await this.engine.history(item.id)).some((h) => h.kind === NOTICE_SENT);
    const copiedThisPass = figures?.messagesCopied ?? 0;
    if (told && copiedThisPass === 0) return { skipped: 'nothing-new' };
    const message = completionNoticeMessage({
      projectName: item.project.name,
      sourceAddress: item.sourceAddress,
      destinationAddress: item.destinationAddress,
      destinationServer: destinationServerOf(item.project.destinationUrl),
      messagesCopied: item.messagesCopied,
      copiedThisPass,
      messagesSkipped: item.messagesSkipped,
      folders: await this.folders(item),
      completedAt: item.lastPassAt ?? item.updatedAt,
      update: told,
      organisation: organisationOf(item.project, this.install),
    });
    const sent: { recipient: string; via: string; ok: boolean; why?: string }[] = [];
    for (const recipient of recipientsOf(item)) {
      const reached = await this.outreach.notice(
        {
          itemId,
          recipient,
          otherAddress: recipient === item.sourceAddress ? item.destinationAddress : item.sourceAddress,
          subject: COMPLETION_NOTICE_SUBJECT,
          message,
          threadRef: item.threadRef,
        },
        item.notify,
      );
      sent.push(...reached);
    }
    for (const r of sent) {
      await this.engine.note(item, SYSTEM_ACTOR, r.ok ? NOTICE_SENT : 'completion-notice.failed', {
        recipient: r.recipient,
        via: r.via,
        ...(r.why ? { why: r.why } : {}),
        copied: copiedThisPass,
      });
      this.log.info(r.ok ? 'completion notice sent' : 'completion notice not delivered', {
        item: itemId,
        via: r.via,
        why: r.why,
      });
    }
    return { sent };
  }

  private async folders(item: Item): Promise<string[]> {
    const { folders } = await this.engine.itemFolders(item.id);
    return folders
      .filter((f) => f.messagesCopied + f.messagesPresent > 0 || f.messagesFound > 0)
      .map((f) => f.destFolder);
  }
}

/** The people the item asks (its source and/or destination address, once each). */
export function recipientsOf(item: { ask: string; sourceAddress: string; destinationAddress: string }): string[] {
  return [
    ...new Set(
      sidesOf(storedSides(item.ask)).map((s) => (s === 'source' ? item.sourceAddress : item.destinationAddress)),
    ),
  ];
}
