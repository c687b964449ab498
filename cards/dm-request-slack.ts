import type { Message } from './model.ts';
import { choiceActions } from './user-choice.ts';
import { formatTime } from './format.ts';
import { capitalise, requesterText, supportSentence, type OrganisationView } from './organisation.ts';

/** What the end user's direct message says (no credential is ever asked for in chat). */
export interface DmRequestView {
  projectName: string;
  sourceAddress: string;
  destinationAddress: string;
  sides: string[];
  /** The secure form link: the only thing the button carries. */
  url: string;
  expiresAt: Date;
  /** Who asked (the admin's chat name); absent when no person's name is known. */
  requestedBy?: string;
  /** The organisation behind the request: its name, support contact and time zone. */
  organisation?: OrganisationView;
  resend: boolean;
  reminder?: boolean;
  /** The id the answer buttons carry, bound to the person the DM goes to (absent: the link alone). */
  choiceId?: string;
  /** Whether the answers include "Tonight" (the project has a copy window). */
  tonight?: boolean;
}

/**
 * The direct message that asks an end user for their mailbox credentials: who asks and
 * why, one button to the secure form, the answer buttons (start now, remind me tomorrow,
 * not my mailbox) when bound to the person, and a warning never to type a password in chat. The
 * plain-text fallback (shown in notifications) does not contain the link.
 */
export function credentialRequestDm(v: DmRequestView): Message {
  const what =
    v.sides.length === 2
      ? 'the passwords of your old and new mailboxes'
      : v.sides[0] === 'destination'
        ? `the password of your new mailbox (${v.destinationAddress})`
        : `the password of your current mailbox (${v.sourceAddress})`;
  const lead = v.reminder
    ? 'Reminder: your mailbox is waiting to be moved.'
    : v.resend
      ? 'A new link to move your mailbox (the previous one no longer works).'
      : 'Your mailbox is being moved to a new server.';
  const text =
    `ACTION REQUIRED: Information required for your migration. ${lead} ` +
    `Open the secure form from the button in this message to enter ${what}.`;
  return {
    kind: 'credential-request-dm',
    text,
    tone: 'warning',
    blocks: [
      {
        type: 'header',
        text: v.organisation?.name
          ? `Action required: your mailbox migration at ${v.organisation.name}`
          : 'Action required: your mailbox migration',
      },
      {
        type: 'text',
        text:
          `${lead} ${capitalise(requesterText(v.requestedBy, v.organisation))} asked ` +
          `MailFerry to move *${v.sourceAddress}*` +
          `${v.destinationAddress !== v.sourceAddress ? ` to *${v.destinationAddress}*` : ''}` +
          ` (project ${v.projectName}).`,
      },
      {
        type: 'text',
        text:
          `Please enter ${what} on the secure form. The link works once ` +
          `and expires ${formatTime(v.expiresAt, v.organisation?.timeZone)}.`,
      },
      {
        type: 'actions',
        actions: [
          { label: 'Open the secure form', url: v.url, style: 'primary' },
          ...(v.choiceId ? choiceActions(v.choiceId, v.tonight) : []),
        ],
      },
      {
        type: 'context',
        text:
          `🔒 Never type a password in Slack. MailFerry will never ask for ` +
          `it here, only on its own form. ${supportSentence(v.organisation)}`,
      },
    ],
  };
}
