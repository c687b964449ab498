import { readFileSync } from 'node:fs';
import * as ACData from 'adaptivecards-templating';
import type { Message } from '../model.ts';
import { fitCard, FALLBACK_TEXT_MAX, renderAction, shortenLines, type AdaptiveCard } from '../render-adaptive-card.ts';
import { choiceActions } from '../user-choice.ts';
import { formatTime } from '../format.ts';
import { capitalise, requesterText, supportSentence, type OrganisationView } from '../organisation.ts';

/** The Teams card templates of this folder (Adaptive Card 1.5 JSON with `${…}` bindings). */
export const TEMPLATES = [
  'add-mailboxes',
  'bulk-add',
  'new-project',
  'project-status',
  'credential-request',
  'welcome',
] as const;
/** The name of one template (its file is `cards/teams/<name>.json`). */
export type TemplateName = (typeof TEMPLATES)[number];

const cache = new Map<TemplateName, unknown>();

/** The raw template JSON (read once). */
export function loadTemplate(name: TemplateName): unknown {
  let t = cache.get(name);
  if (!t) {
    t = JSON.parse(readFileSync(new URL(`./${name}.json`, import.meta.url), 'utf8'));
    cache.set(name, t);
  }
  return t;
}

/**
 * Expands a template with adaptivecards-templating. Every binding must have a value:
 * the templating library leaves an unknown `${x}` in place, so builders pass `''` for
 * empty fields rather than leaving them out.
 */
export function expandCard(name: TemplateName, data: Record<string, unknown>): AdaptiveCard {
  const card = new ACData.Template(loadTemplate(name)).expand({ $root: data }) as AdaptiveCard;
  if (typeof card.fallbackText === 'string') card.fallbackText = shortenLines(card.fallbackText, FALLBACK_TEXT_MAX);
  return fitCard(card);
}

/**
 * Pasted text a form shows again with its error. Teams refuses a card over about 28 KB, so
 * a long paste (thousands of CSV lines) is not echoed: the field comes back empty and the
 * error says to paste it again, rather than a truncated copy being submitted by mistake.
 */
export const ECHO_MAX = 8_000;

function echo(value: string | undefined, error: string | undefined, what: string): { value: string; error: string } {
  const v = value ?? '';
  if (v.length <= ECHO_MAX) return { value: v, error: error ?? '' };
  const lines = v.split('\n').filter((l) => l.trim()).length;
  const note =
    `The ${lines.toLocaleString('en-US')} ${what} are not shown ` +
    `again (too long for a card): paste them again once fixed.`;
  return { value: '', error: error ? `${shortenLines(error, 4_000)}\n${note}` : note };
}

/** A form's error: shown under the input it is about (`errorAt`, an input id of the card), or above the inputs. */
interface FormError {
  error?: string;
  errorAt?: string;
}

/** `error` and `errorAt` as a form template binds them: `errorAt` is '' unless it names one of `inputs`. */
function errorData(
  error: string,
  errorAt: string | undefined,
  inputs: readonly string[],
): { error: string; errorAt: string } {
  return { error, errorAt: error && errorAt && inputs.includes(errorAt) ? errorAt : '' };
}

/** Values of the "Add mailboxes" form (echoed back when the card shows an error). */
export interface AddFormData extends FormError {
  project?: string;
  addresses?: string;
  ask?: string;
  notify?: string;
}

/** The "Add mailboxes" form: addresses, which credentials to ask for, how to notify. */
export function addMailboxesCard(d: AddFormData = {}): AdaptiveCard {
  const e = echo(d.addresses, d.error, 'addresses');
  return expandCard('add-mailboxes', {
    project: d.project ?? '',
    addresses: e.value,
    ask: d.ask || 'default',
    notify: d.notify || 'default',
    ...errorData(e.error, d.errorAt, ['addresses', 'ask', 'notify']),
  });
}

/** Values of the "Bulk add" form. */
export interface BulkFormData extends FormError {
  project?: string;
  csv?: string;
  ask?: string;
  notify?: string;
}

/** The "Bulk add" form: CSV lines pasted into a multi-line field. */
export function bulkAddCard(d: BulkFormData = {}): AdaptiveCard {
  const e = echo(d.csv, d.error, 'CSV lines');
  return expandCard('bulk-add', {
    project: d.project ?? '',
    csv: e.value,
    ask: d.ask || 'default',
    notify: d.notify || 'default',
    ...errorData(e.error, d.errorAt, ['csv', 'ask', 'notify']),
  });
}

/** Values of the "New project" form. */
export interface ProjectFormData extends FormError {
  name?: string;
  source?: string;
  destination?: string;
  selfService?: string;
  notify?: string;
  /** As typed or as Teams submitted it: a number, a numeric string, or empty. */
  licenses?: string | number;
}

/**
 * The "New project" form. The licenses field is an `Input.Number`, whose `value` the
 * schema types as a number (the native renderers parse it as a double): it carries the
 * number echoed back, or no `value` at all when there is none.
 */
export function newProjectCard(d: ProjectFormData = {}): AdaptiveCard {
  const licenses = typeof d.licenses === 'number' ? d.licenses : d.licenses?.trim() ? Number(d.licenses.trim()) : NaN;
  const card = expandCard('new-project', {
    name: d.name ?? '',
    source: d.source ?? '',
    destination: d.destination ?? '',
    selfService: d.selfService || 'source',
    notify: d.notify || 'email',
    licenses: Number.isFinite(licenses) ? licenses : 0,
    ...errorData(d.error ?? '', d.errorAt, ['name', 'source', 'destination', 'selfService', 'notify', 'licenses']),
  });
  for (const el of card.body as { type?: string; id?: string; value?: unknown }[])
    if (el.type === 'Input.Number' && el.id === 'licenses') {
      if (Number.isFinite(licenses)) el.value = licenses;
      else delete el.value;
    }
  return card;
}

/** What the credential request card shows an end user. */
export interface CredentialRequestView {
  projectName: string;
  sourceAddress: string;
  destinationAddress: string;
  sides: string[];
  /** Who asked (the admin's chat name); absent when no person's name is known. */
  requestedBy?: string;
  /** The organisation behind the request: its name, support contact and time zone. */
  organisation?: OrganisationView;
  expiresAt: Date;
  url: string;
  reminder?: boolean;
  resend?: boolean;
  /** The id the answer buttons carry, bound to the person the card goes to (absent: the link alone). */
  choiceId?: string;
  /** Whether the answers include "Tonight" (the project has a copy window). */
  tonight?: boolean;
}

/**
 * The 1:1 credential request: the mailbox, who asked, when the link expires, a button
 * to MailFerry's secure form and, when bound to the person, the answer buttons (start now,
 * remind me tomorrow, not my mailbox). It never holds a password input: what is typed into a card
 * goes through the chat platform's servers; secrets are typed only into our own form.
 */
export function credentialRequestCard(v: CredentialRequestView): AdaptiveCard {
  const needed = v.sides.length === 2 ? 'source and destination mailbox passwords' : `${v.sides[0]} mailbox password`;
  const org = v.organisation;
  const title =
    (v.reminder ? 'Reminder: your mailbox migration needs you' : 'Your mailbox migration needs you') +
    (org?.name ? ` (${org.name})` : '');
  const requester = capitalise(requesterText(v.requestedBy, org));
  const expires = formatTime(v.expiresAt, org?.timeZone);
  const card = expandCard('credential-request', {
    title,
    intro:
      `${requester} is moving your mailbox ${v.sourceAddress} (project ${v.projectName}). MailFerry ` +
      `needs your ${needed} to copy your mail.${v.resend ? ' This replaces an earlier link.' : ''}`,
    summary: `${title}: ${v.sourceAddress}. Open the secure form before ${expires}.`,
    mailbox: v.sourceAddress,
    destination: v.destinationAddress,
    needed,
    requestedBy: requester,
    expires,
    support: org?.support ?? '',
    safety:
      `Never type your password in chat. The button opens MailFerry's ` +
      `secure form; the link works once. ${supportSentence(org)}`,
    url: v.url,
  });
  // The answers beside the link: Universal Actions that run `answer ID CHOICE` as the person who clicks.
  if (v.choiceId) card.actions = [...(card.actions ?? []), ...choiceActions(v.choiceId, v.tonight).map(renderAction)];
  return card;
}

/** The card posted when the bot joins a team, a chat or a 1:1 conversation. */
export function welcomeCard(examples: string[]): AdaptiveCard {
  return expandCard('welcome', {
    intro:
      'I move mailboxes from chat. Mention me with a command, or use the buttons. ' +
      "Users enter their passwords only on MailFerry's secure form, never in chat.",
    examples: examples.join('\n'),
  });
}

const COUNT_COLOR: Record<string, string> = {
  Completed: 'Good',
  Failed: 'Attention',
  'Waiting for user': 'Warning',
  Running: 'Accent',
};

/**
 * The project status card: counts per status, facts, one line per mailbox, and the
 * actions Refresh, Start waiting and Digest now (refreshed in place). Built from the
 * neutral `project-status` message (cards/status.ts), so it shows exactly what the other
 * surfaces show.
 */
export function projectStatusCard(
  m: Message,
  opts: { notice?: string; noticeTone?: Message['tone']; now?: Date } = {},
): AdaptiveCard {
  const header = m.blocks.find((b) => b.type === 'header');
  const title = header?.type === 'header' ? header.text : 'Project status';
  const project = title.replace(/^Project /, '');
  const factBlock = m.blocks.find((b) => b.type === 'facts');
  const facts = factBlock?.type === 'facts' ? factBlock.facts.map((f) => ({ label: f.label, value: f.value })) : [];
  // "3: Completed 1 · Failed 2" (cards/status.ts countsLine) → one column per status.
  const mailboxes = facts.find((f) => f.label === 'Mailboxes')?.value ?? '';
  const counts = mailboxes.includes(': ')
    ? mailboxes
        .slice(mailboxes.indexOf(': ') + 2)
        .split(' · ')
        .flatMap((part) => {
          const [, label, value] = /^(.*\S)\s+([\d,]+)$/.exec(part) ?? [];
          return label && value ? [{ label, value, color: COUNT_COLOR[label] ?? 'Default' }] : [];
        })
    : [];
  const list = m.blocks.find((b) => b.type === 'list');
  const text = m.blocks.find((b) => b.type === 'text');
  const lines =
    list?.type === 'list'
      ? list.items.map((i) => `- ${i}`).join('\n')
      : text?.type === 'text'
        ? text.text.replace(/`([^`]+)`/g, '"$1"')
        : '';
  const more = list?.type === 'list' && list.more ? list.more.replace(/`([^`]+)`/g, '"$1"') : '';
  return expandCard('project-status', {
    title,
    project,
    summary: m.text,
    notice: opts.notice ?? '',
    noticeColor:
      opts.noticeTone === 'error'
        ? 'Attention'
        : opts.noticeTone === 'warning'
          ? 'Warning'
          : opts.noticeTone === 'success'
            ? 'Good'
            : 'Default',
    facts,
    counts,
    lines,
    more,
    updated: formatTime(opts.now ?? new Date()),
  });
}
