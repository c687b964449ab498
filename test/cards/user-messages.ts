/**
 * Every message end users get besides the credential request (completion notice, answers), and the admin's posts of
 * their answers, as the card tests render them.
 */
import type { Message } from '../../cards/model.ts';
import { completionNoticeMessage } from '../../cards/completion-notice.ts';
import { choiceAnsweredMessage, choiceRefusedMessage, userChoicePost, USER_CHOICES } from '../../cards/user-choice.ts';
import { credentialRequestDm } from '../../cards/dm-request-slack.ts';

const org = {
  name: 'ACME <Corp> & "Partners"',
  support: 'helpdesk@acme.example, +1 555 0100',
  timeZone: 'Europe/Berlin',
};
const remindAt = new Date('2026-12-01T08:00:00Z');
const startAt = new Date('2026-11-30T21:00:00Z');

/** A credential request DM bound to its recipient. */
const dm = {
  projectName: 'acme',
  sourceAddress: 'bob@old.example',
  destinationAddress: 'bob@new.example',
  sides: ['source'],
  url: 'https://mailferry.example/c/abc',
  expiresAt: remindAt,
  organisation: org,
  resend: false,
  choiceId: '00000000-0000-4000-8000-000000000000.AAAAAAAAAAAAAAAAAAAAAA',
};

/** Named messages: each is rendered for text, Block Kit, Adaptive Card 1.5 and email by the card tests. */
export const USER_MESSAGES: Record<string, Message> = {
  'completion notice': completionNoticeMessage({
    projectName: 'acme',
    sourceAddress: 'bob_smith@old.example',
    destinationAddress: 'bob.smith@new.example',
    destinationServer: 'mail.new.example:993',
    messagesCopied: 12_345,
    copiedThisPass: 12_345,
    messagesSkipped: 2,
    folders: ['INBOX', 'Sent', 'Archive/2019'],
    completedAt: new Date('2026-11-30T02:00:00Z'),
    update: false,
    organisation: org,
  }),
  'completion notice of a later pass, no support contact': completionNoticeMessage({
    projectName: 'acme',
    sourceAddress: 'bob@old.example',
    destinationAddress: 'bob@new.example',
    destinationServer: 'Microsoft 365',
    messagesCopied: 12_400,
    copiedThisPass: 55,
    messagesSkipped: 0,
    folders: ['INBOX'],
    completedAt: new Date('2026-11-30T02:00:00Z'),
    update: true,
  }),
  'credential request DM with answer buttons': credentialRequestDm(dm),
  'credential request DM with answer buttons and Tonight (the project has a copy window)': credentialRequestDm({
    ...dm,
    tonight: true,
  }),
  ...Object.fromEntries(
    USER_CHOICES.flatMap((choice) => [
      [
        `answer confirmed: ${choice}`,
        choiceAnsweredMessage({ address: 'bob@old.example', choice, remindAt, startAt, organisation: org }),
      ],
      [
        `thread post: ${choice}`,
        userChoicePost({ address: 'bob@old.example', choice, remindAt, startAt, organisation: org }),
      ],
    ]),
  ),
  'answer refused': choiceRefusedMessage('This button answers only for the person the message was sent to.'),
};
