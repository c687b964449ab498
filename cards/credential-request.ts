import type { Message } from './model.ts';
import { formatTime } from './format.ts';
import { capitalise, requesterText, supportSentence, type OrganisationView } from './organisation.ts';

/** The subject end users know from the hosted consoles (seeds): exactly this, every time. */
export const CREDENTIAL_REQUEST_SUBJECT = 'ACTION REQUIRED: Information required for your migration';

/** What a credential request says; built from the outreach's request, nothing else. */
export interface CredentialRequestView {
  projectName: string;
  /** Who asked (the admin's chat name); absent when no person's name is known (console, reminders). */
  requestedBy?: string;
  /** The organisation behind the request: its name, support contact and time zone. */
  organisation?: OrganisationView;
  sourceAddress: string;
  destinationAddress: string;
  /** Which credentials the form will ask for. */
  sides: string[];
  /** The secure form link (carries the token: it goes in the message and nowhere else). */
  url: string;
  expiresAt: Date;
  /** A new request replacing an earlier one. */
  resend?: boolean;
  /** A reminder of a request still unanswered. */
  reminder?: boolean;
}

function whatWeNeed(sides: string[], v: CredentialRequestView): string {
  const src = `the username and password of your current mailbox (${v.sourceAddress})`;
  const dst = `the username and password of your new mailbox (${v.destinationAddress})`;
  if (sides.includes('source') && sides.includes('destination')) return `${src} and ${dst}`;
  return sides.includes('destination') ? dst : src;
}

/**
 * The credential request an end user receives (email, or a chat DM): who asked, which
 * mailbox, what happens next, when the link expires, and the link. Neutral model; the
 * email renderer (`render-email.ts`) and chat renderers turn it into their format.
 */
export function credentialRequestMessage(v: CredentialRequestView): Message {
  const org = v.organisation;
  const expires = formatTime(v.expiresAt, org?.timeZone);
  const requester = requesterText(v.requestedBy, org);
  const moving =
    v.sourceAddress === v.destinationAddress ? v.sourceAddress : `${v.sourceAddress} → ${v.destinationAddress}`;
  const intro = v.reminder
    ? `Reminder: your mailbox migration is still waiting for you.`
    : v.resend
      ? `Here is a new link for your mailbox migration. Any earlier link no longer works.`
      : org?.name
        ? `${org.name} is moving your mailbox to a new system.`
        : `Your mailbox is being moved to a new system.`;
  const asked =
    `${capitalise(requester)} asked for the migration of your mailbox ${moving} ` +
    `(project ${v.projectName}). To copy your mail, we need ${whatWeNeed(v.sides, v)}.`;
  const next =
    'Open the secure form with the link below and enter what ' +
    'it asks for. We check it with the mail server right away; ' +
    'once it is accepted your migration starts at once, and you ' +
    'can keep using your mailbox as usual while your mail is copied.';
  const safety =
    `The link works once and expires on ${expires}. Enter your password only on ` +
    `this form, never in a reply to this email or in a chat. ${supportSentence(org)}`;
  const text = [intro, asked, next, `Secure form: ${v.url}`, safety].join('\n\n');
  return {
    kind: 'credential-request',
    text,
    tone: 'warning',
    blocks: [
      {
        type: 'header',
        text: org?.name
          ? `${org.name}: information required for your migration`
          : 'Information required for your migration',
      },
      { type: 'text', text: intro },
      { type: 'text', text: asked },
      {
        type: 'facts',
        facts: [
          { label: 'Mailbox', value: v.sourceAddress },
          ...(v.destinationAddress !== v.sourceAddress ? [{ label: 'Moving to', value: v.destinationAddress }] : []),
          { label: 'Project', value: v.projectName },
          ...(org?.name ? [{ label: 'Organisation', value: org.name }] : []),
          { label: 'Requested by', value: capitalise(requester) },
          { label: 'Link expires', value: expires },
          ...(org?.support ? [{ label: 'Help', value: org.support }] : []),
        ],
      },
      { type: 'text', text: next },
      { type: 'actions', actions: [{ label: 'Open the secure form', url: v.url, style: 'primary' }] },
      { type: 'context', text: safety },
    ],
  };
}
