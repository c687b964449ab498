import type { Message } from './model.ts';

/** A command as help shows it (data only: cards import nothing of ours). */
export interface HelpEntry {
  name: string;
  summary: string;
  usage: string;
  options: { flag: string; summary: string }[];
  examples: string[];
}

/** The list of commands a person may run. */
export function helpOverview(entries: HelpEntry[], isAdmin: boolean): Message {
  const lines = entries.map((e) => `${e.usage.split(' [')[0]} — ${e.summary}`);
  return {
    kind: 'help',
    text: `MailFerry commands:\n${lines.join('\n')}`,
    tone: 'info',
    blocks: [
      { type: 'header', text: 'MailFerry commands' },
      { type: 'list', items: lines },
      {
        type: 'context',
        text: isAdmin
          ? 'Type `/migrate help COMMAND` for options and examples. Passwords ' +
            "are never typed in chat: users enter them on MailFerry's secure form."
          : 'Only MailFerry admins can run migration commands. If you ' +
            'received a link to enter your credentials, use that link.',
      },
    ],
  };
}

/** Help for one command: usage, options, examples. */
export function helpCommand(e: HelpEntry): Message {
  return {
    kind: 'help-command',
    text: `${e.usage}\n${e.summary}`,
    tone: 'info',
    blocks: [
      { type: 'header', text: `/migrate ${e.name}` },
      { type: 'text', text: e.summary },
      { type: 'code', text: e.usage },
      ...(e.options.length
        ? [{ type: 'facts' as const, facts: e.options.map((o) => ({ label: o.flag, value: o.summary })) }]
        : []),
      ...(e.examples.length ? [{ type: 'list' as const, items: e.examples.map((x) => `Example: ${x}`) }] : []),
    ],
  };
}

/** A refusal or a bad command: what went wrong, and the usage line or what to do. */
export function errorMessage(message: string, hint?: string): Message {
  return {
    kind: 'error',
    text: hint ? `${message}\n${hint}` : message,
    tone: 'error',
    blocks: [{ type: 'text', text: `⚠️ ${message}` }, ...(hint ? [{ type: 'context' as const, text: hint }] : [])],
  };
}

/** An unexpected failure: the person gets a reference to quote, the details are in the log. */
export function internalErrorMessage(ref: string): Message {
  const text =
    `Something went wrong on MailFerry's side. Nothing was changed by the failed ` +
    `step. If it happens again, give your administrator this reference: ${ref}.`;
  return { kind: 'internal-error', text, tone: 'error', blocks: [{ type: 'text', text }] };
}

/**
 * The database cannot take a write (a full disk): the command did nothing, the admin is told
 * why and what fixes it. `fault` is `full` or `unwritable`.
 */
export function databaseFaultMessage(fault: 'full' | 'unwritable', ref: string): Message {
  const text =
    fault === 'full'
      ? `The database is full: MailFerry cannot save anything until space is freed on the disk that holds ` +
        `it. Nothing was changed; run the command again once there is space. (Reference for the log: ${ref}.)`
      : `MailFerry cannot write to its database (a disk error or a read-only file). Nothing was ` +
        `changed; run the command again once the disk is fixed. (Reference for the log: ${ref}.)`;
  return { kind: 'database-fault', text, tone: 'error', blocks: [{ type: 'text', text: `⚠️ ${text}` }] };
}

/** Refusal for a non-admin. */
export function notAdminMessage(command: string): Message {
  const text =
    `Only MailFerry admins can run "${command}". Ask your MailFerry ` +
    `administrator to add you (MAILFERRY_ADMINS), or run it from an admin channel.`;
  return { kind: 'not-admin', text, tone: 'error', blocks: [{ type: 'text', text: `⛔ ${text}` }] };
}
