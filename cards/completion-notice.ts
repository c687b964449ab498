import type { Message } from './model.ts';
import { formatCount, formatTime, plural } from './format.ts';
import type { OrganisationView } from './organisation.ts';

/** The subject of the completion notice email. */
export const COMPLETION_NOTICE_SUBJECT = 'Your mailbox migration is complete';

/** Destination folders named in the notice; the rest are counted. */
const FOLDERS_SHOWN = 8;

/** What the completion notice says; built from the item after its pass, nothing secret. */
export interface CompletionNoticeView {
  projectName: string;
  sourceAddress: string;
  destinationAddress: string;
  /** The destination server as users know it (`mail.new.example`, `Microsoft 365`): never a URL with credentials. */
  destinationServer: string;
  /** Messages copied into the new mailbox by every pass so far. */
  messagesCopied: number;
  /** Of those, copied by the pass that just completed (a later pass copies only what is new). */
  copiedThisPass: number;
  /** Messages the new server refused (the admin has the list). */
  messagesSkipped: number;
  /** Destination folder names the mail went into. */
  folders: string[];
  completedAt: Date;
  /** A later pass (the mailbox had completed before and this pass copied new mail). */
  update: boolean;
  organisation?: OrganisationView;
}

/** What to do when something is missing: the support contact when set, the IT team otherwise. */
function missingSentence(org: OrganisationView | undefined): string {
  const who = org?.support ? `contact ${org.support}` : 'contact your IT administrator';
  return (
    `If something is missing, ${who} and say which folder or ` +
    `message: your old mailbox is untouched, so nothing is lost.`
  );
}

/**
 * The notice an end user gets when their mailbox has been copied: what was copied
 * (messages, folders), where it now lives (the new address and server) and what to do if
 * something is missing. It carries no link and no credential: nothing in it needs opening.
 */
export function completionNoticeMessage(v: CompletionNoticeView): Message {
  const org = v.organisation;
  const folders =
    v.folders.slice(0, FOLDERS_SHOWN).join(', ') +
    (v.folders.length > FOLDERS_SHOWN ? ` and ${plural(v.folders.length - FOLDERS_SHOWN, 'more folder')}` : '');
  const lead = v.update
    ? `New mail of ${v.sourceAddress} has been copied to your new ` +
      `mailbox: ${plural(v.copiedThisPass, 'message')} since the last copy.`
    : `Your mailbox ${v.sourceAddress} has been copied to its new home.`;
  const what =
    `${plural(v.messagesCopied, 'message')} in ${plural(v.folders.length, 'folder')} ` +
    `now live in ${v.destinationAddress} on ${v.destinationServer}.`;
  const skipped = v.messagesSkipped
    ? ` The new server refused ${plural(v.messagesSkipped, 'message')}; your IT team has the list.`
    : '';
  const missing = missingSentence(org);
  const text = [lead, what + skipped, missing].join('\n\n');
  return {
    kind: 'completion-notice',
    text,
    tone: 'success',
    blocks: [
      { type: 'header', text: org?.name ? `${org.name}: your mailbox has been moved` : 'Your mailbox has been moved' },
      { type: 'text', text: lead },
      { type: 'text', text: what + skipped },
      {
        type: 'facts',
        facts: [
          { label: 'Mailbox', value: v.sourceAddress },
          { label: 'Now at', value: v.destinationAddress },
          { label: 'Server', value: v.destinationServer },
          { label: 'Messages copied', value: formatCount(v.messagesCopied) },
          ...(v.folders.length ? [{ label: 'Folders', value: folders }] : []),
          ...(v.messagesSkipped ? [{ label: 'Refused by the new server', value: formatCount(v.messagesSkipped) }] : []),
          { label: 'Completed', value: formatTime(v.completedAt, org?.timeZone) },
          ...(org?.support ? [{ label: 'Help', value: org.support }] : []),
        ],
      },
      { type: 'text', text: missing },
      {
        type: 'context',
        text:
          `Project ${v.projectName}. This message needs no answer and ` +
          `holds no link: MailFerry never asks for a password in a notice.`,
      },
    ],
  };
}
