import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Engine } from '../../engine/engine.ts';
import type { BotDb } from '../store/bot-db.ts';
import type { Actor } from '../../engine/domain/types.ts';
import type { Message } from '../../cards/model.ts';
import {
  choiceAnsweredMessage,
  choiceRefusedMessage,
  userChoicePost,
  type UserChoice,
} from '../../cards/user-choice.ts';
import { organisationOf } from '../organisation.ts';
import { projectWindowState } from '../../engine/domain/window.ts';
import { remindTomorrow } from '../scheduler/reminders.ts';
import type { Notifier } from '../notifier.ts';
import type { Logger } from '../log.ts';

const ID = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{22})$/;

/** What the choice buttons need. */
export interface UserChoiceDeps {
  engine: Engine;
  db: BotDb;
  notifier: Notifier;
  log: Logger;
  /** A key for choice ids only (derived from the vault key, never the key itself). */
  key: Buffer;
  install: { name?: string; support?: string };
  now?: () => Date;
}

/**
 * The end user's answers to a credential request DM: "Start now", "Tonight" (where the
 * project has a copy window), "Remind me tomorrow", "This mailbox is not mine / not used". A button names its item by a
 * choice id bound to
 * the person the DM was sent to (an HMAC of the item and their chat user id): the same id
 * clicked by anyone else is refused, so a forwarded DM or a guessed value does nothing.
 * Each answer is posted in the admin's thread and kept in the item's history.
 */
export class UserChoices {
  constructor(private d: UserChoiceDeps) {}

  /** The choice id of an item's DM to one chat user (`surface`, their platform user id). */
  bind(itemId: string, surface: string, userId: string): string {
    return `${itemId}.${this.tag(itemId, surface, userId)}`;
  }

  private tag(itemId: string, surface: string, userId: string): string {
    return createHmac('sha256', this.d.key)
      .update(`choice\n${itemId}\n${surface}:${userId}`)
      .digest('base64url')
      .slice(0, 22);
  }

  /** Takes one answer from the person who clicked; returns what to tell them. */
  async answer(actor: Actor, choiceId: string, choice: UserChoice): Promise<Message> {
    const [, itemId, tag] = ID.exec(choiceId) ?? [];
    // Both sides are 22 base64url characters (the pattern checked the clicked one).
    if (!itemId || !tag || !timingSafeEqual(Buffer.from(this.tag(itemId, actor.surface, actor.id)), Buffer.from(tag))) {
      this.d.log.warn('choice refused: not the person the message was sent to', {
        surface: actor.surface,
        user: actor.id,
      });
      return choiceRefusedMessage(
        'This button answers only for the person the message was sent to. ' +
          'If this mailbox is yours, ask your IT team to send you a request.',
      );
    }
    const item = await this.d.engine.itemById(itemId);
    if (!item) return choiceRefusedMessage('This mailbox is no longer being migrated.');
    const organisation = organisationOf(item.project, this.d.install);
    if (item.status !== 'WaitingForUser') {
      const said =
        item.status === 'Queued' || item.status === 'Running'
          ? 'your migration has already started'
          : item.status === 'Completed'
            ? 'your mailbox has already been copied'
            : 'this migration is no longer waiting for you';
      return choiceRefusedMessage(`Nothing to change: ${said}.`);
    }
    const now = this.d.now?.() ?? new Date();
    let startAt: Date | undefined;
    if (choice === 'tonight') {
      // Copying begins when the project's copy window next opens (now, while it is open); the window itself holds the
      // pass until then.
      const w = projectWindowState(item.project, now);
      if (!w)
        return choiceRefusedMessage(
          'This migration has no night-time window: use "Start now", ' +
            'and your mailbox is copied as soon as your credentials are in.',
        );
      startAt = w.open ? now : w.next;
    }
    let remindAt: Date | undefined;
    if (choice === 'tomorrow') remindAt = await remindTomorrow(this.d.db, item, now);
    if (choice === 'not-mine')
      await this.d.engine.stopItem(actor, item, { note: 'the end user says this mailbox is not theirs or not used' });
    await this.d.engine.note(item, actor, 'user.choice', {
      choice,
      ...(remindAt ? { remindAt: remindAt.toISOString() } : {}),
      ...(startAt ? { startAt: startAt.toISOString() } : {}),
    });
    this.d.log.info('user choice', { item: item.id, choice });
    const view = { address: item.sourceAddress, choice, remindAt, startAt, organisation };
    if (item.threadRef)
      await this.d.notifier.post({
        threadRef: item.threadRef,
        address: item.sourceAddress,
        itemId: item.id,
        message: userChoicePost(view),
      });
    return choiceAnsweredMessage(view);
  }
}
