import type { Engine, Item } from '../../engine/engine.ts';
import type { EngineEvent, PassFigures } from '../../engine/events.ts';
import { readProjectOptions } from '../../engine/domain/project-options.ts';
import { SYSTEM_ACTOR, sidesOf, type Sides } from '../../engine/domain/types.ts';
import { COMPLETION_NOTICE_SUBJECT, completionNoticeMessage } from '../../cards/completion-notice.ts';
import { organisationOf } from '../organisation.ts';
import type { Logger } from '../log.ts';
import type { Outreach } from './outreach.ts';

/** History kind of a completion notice that reached its person (the "already told" mark). */
export const NOTICE_SENT = 'completion-notice.sent';

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
 */
export class CompletionNotices {
  constructor(
    private engine: Engine,
    private outreach: Outreach,
    private log: Logger,
    private install: { name?: string; support?: string } = {},
  ) {}

  /** Handles engine events (subscribe with `bus.on`): a pass that ended `Completed`. */
  async onEvent(e: EngineEvent): Promise<void> {
    if (e.type !== 'item.status' || e.to !== 'Completed' || e.from !== 'Running') return;
    const r = await this.notify(e.item.id, e.figures);
    if ('skipped' in r) this.log.info('completion notice not sent', { item: e.item.id, why: r.skipped });
  }

  /** Sends the notice of an item that just completed a pass with these figures (when due). */
  async notify(itemId: string, figures?: PassFigures): Promise<NoticeOutcome> {
    const item = await this.engine.itemById(itemId);
    if (item?.status !== 'Completed') return { skipped: 'not-completed' };
    if (readProjectOptions(item.project.options).options.completionNotice === false) return { skipped: 'off' };
    // A pre-stage copied old mail only: the user hears when the full pass has copied the rest.
    if (figures?.pass?.type === 'prestage') return { skipped: 'prestage' };
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
    ...new Set(sidesOf(item.ask as Sides).map((s) => (s === 'source' ? item.sourceAddress : item.destinationAddress))),
  ];
}
