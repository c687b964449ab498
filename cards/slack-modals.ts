/**
 * Slack modals (Block Kit views) for the commands that are clumsy to type: adding
 * mailboxes, a bulk CSV, a new project. Pure data; the Slack adapter opens them with
 * `views.open` and reads `view.state.values[BLOCK][VALUE_ACTION]` on submission.
 */

/** `callback_id`s of the modals. */
export const MODAL = { add: 'mf_add', bulk: 'mf_bulk', project: 'mf_project' } as const;

/** Every input element uses this action id; the block id names the field. */
export const VALUE_ACTION = 'value';

/** Block ids (= field names in `response_action: errors`). */
export const FIELD = {
  addresses: 'addresses',
  ask: 'ask',
  notify: 'notify',
  project: 'project',
  file: 'file',
  paste: 'paste',
  name: 'name',
  source: 'source',
  destination: 'destination',
  selfService: 'self_service',
  licenses: 'licenses',
} as const;

/** The block of each command input a modal has (arguments and options by their command names). */
const BLOCK_OF_INPUT: Record<string, string> = {
  SOURCE_ADDRESS: FIELD.addresses,
  DESTINATION_ADDRESS: FIELD.addresses,
  ask: FIELD.ask,
  notify: FIELD.notify,
  project: FIELD.project,
  NAME: FIELD.name,
  source: FIELD.source,
  destination: FIELD.destination,
  'self-service': FIELD.selfService,
  licenses: FIELD.licenses,
};

/** The block where a refusal about a command input (`UserError.field`) shows; `fallback` when it names none of them. */
export function blockOf(field: string | undefined, fallback: string): string {
  return (field && BLOCK_OF_INPUT[field]) || fallback;
}

/** Prefilled choices. */
export interface ModalInitial {
  ask?: string;
  notify?: string;
  project?: string;
}

type Option = {
  text: { type: 'plain_text'; text: string };
  value: string;
  description?: { type: 'plain_text'; text: string };
};

const pt = (text: string) => ({ type: 'plain_text' as const, text, emoji: true });

function option(value: string, label: string, description?: string): Option {
  return {
    text: { type: 'plain_text', text: label },
    value,
    ...(description ? { description: { type: 'plain_text', text: description } } : {}),
  };
}

function radios(
  blockId: string,
  label: string,
  options: Option[],
  initial: string | undefined,
  hint: string,
): Record<string, unknown> {
  const init = options.find((o) => o.value === initial);
  return {
    type: 'input',
    block_id: blockId,
    optional: true,
    label: pt(label),
    hint: pt(hint),
    element: { type: 'radio_buttons', action_id: VALUE_ACTION, options, ...(init ? { initial_option: init } : {}) },
  };
}

const ASK_OPTIONS = [
  option('source', 'Source mailbox', 'The user of the old address enters the source password'),
  option('destination', 'Destination mailbox', 'The user of the new address enters the destination password'),
  option('both', 'Both', 'Source and destination passwords'),
];
const NOTIFY_OPTIONS = [
  option('email', 'Email'),
  option('chat', 'Slack direct message', 'Email when the person is not in this workspace'),
  option('both', 'Both'),
];

function askBlocks(initial: ModalInitial): Record<string, unknown>[] {
  return [
    radios(
      FIELD.ask,
      'Which credentials to ask for',
      ASK_OPTIONS,
      initial.ask,
      "Leave empty for the project's setting.",
    ),
    radios(
      FIELD.notify,
      'How to ask the user',
      NOTIFY_OPTIONS,
      initial.notify,
      "Leave empty for the project's setting.",
    ),
    {
      type: 'input',
      block_id: FIELD.project,
      optional: true,
      label: pt('Project'),
      hint: pt('Only needed when this channel has several projects.'),
      element: {
        type: 'plain_text_input',
        action_id: VALUE_ACTION,
        ...(initial.project ? { initial_value: initial.project } : {}),
        max_length: 80,
      },
    },
  ];
}

/** A Slack modal view (`views.open` payload's `view`). */
export interface ModalView {
  type: 'modal';
  callback_id: string;
  private_metadata: string;
  title: { type: 'plain_text'; text: string };
  submit: { type: 'plain_text'; text: string };
  close: { type: 'plain_text'; text: string };
  blocks: Record<string, unknown>[];
}

function modal(
  callbackId: string,
  title: string,
  submit: string,
  metadata: string,
  blocks: Record<string, unknown>[],
): ModalView {
  return {
    type: 'modal',
    callback_id: callbackId,
    private_metadata: metadata,
    title: pt(title),
    submit: pt(submit),
    close: pt('Cancel'),
    blocks,
  };
}

/** "Add mailboxes": addresses (one per line), which credentials to ask for, how to ask. */
export function addMailboxesModal(metadata: string, initial: ModalInitial = {}): ModalView {
  return modal(MODAL.add, 'Add mailboxes', 'Add', metadata, [
    {
      type: 'input',
      block_id: FIELD.addresses,
      label: pt('Mailboxes'),
      hint: pt('One per line: the source address, then the destination address if it differs.'),
      element: {
        type: 'plain_text_input',
        action_id: VALUE_ACTION,
        multiline: true,
        placeholder: pt('alice@old.example\nbob@old.example bob@new.example'),
      },
    },
    ...askBlocks(initial),
    {
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: "🔒 Users enter their passwords on MailFerry's secure form, never in Slack." },
      ],
    },
  ]);
}

/** "Add mailboxes from CSV": a CSV file, or lines pasted. */
export function bulkModal(metadata: string, initial: ModalInitial = {}): ModalView {
  return modal(MODAL.bulk, 'Add mailboxes from CSV', 'Add', metadata, [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text:
          'One mailbox per line: `source,destination[,source_login,destination_login]`. ' +
          'A header line and `#` comments are ignored.',
      },
    },
    {
      type: 'input',
      block_id: FIELD.file,
      optional: true,
      label: pt('CSV file'),
      element: { type: 'file_input', action_id: VALUE_ACTION, filetypes: ['csv', 'txt'], max_files: 1 },
    },
    {
      type: 'input',
      block_id: FIELD.paste,
      optional: true,
      label: pt('Or paste the lines'),
      element: {
        type: 'plain_text_input',
        action_id: VALUE_ACTION,
        multiline: true,
        placeholder: pt('alice@old.example,alice@new.example'),
      },
    },
    ...askBlocks(initial),
  ]);
}

/** "New migration project": name, source and destination servers, defaults. */
export function projectModal(metadata: string): ModalView {
  const urlHint = 'imaps://host:993, imap://host:143 (STARTTLS when offered) or m365://TENANT_ID';
  return modal(MODAL.project, 'New migration project', 'Create', metadata, [
    {
      type: 'input',
      block_id: FIELD.name,
      label: pt('Name'),
      element: { type: 'plain_text_input', action_id: VALUE_ACTION, placeholder: pt('acme'), max_length: 64 },
    },
    {
      type: 'input',
      block_id: FIELD.source,
      label: pt('Source server'),
      hint: pt(urlHint),
      element: { type: 'plain_text_input', action_id: VALUE_ACTION, placeholder: pt('imaps://mail.old.example:993') },
    },
    {
      type: 'input',
      block_id: FIELD.destination,
      label: pt('Destination server'),
      hint: pt(urlHint),
      element: { type: 'plain_text_input', action_id: VALUE_ACTION, placeholder: pt('imaps://mail.new.example:993') },
    },
    radios(
      FIELD.selfService,
      'Whose address is asked for credentials',
      ASK_OPTIONS,
      undefined,
      'Default: the source address.',
    ),
    radios(FIELD.notify, 'How users are asked', NOTIFY_OPTIONS, undefined, 'Default: email.'),
    {
      type: 'input',
      block_id: FIELD.licenses,
      optional: true,
      label: pt('Licenses'),
      hint: pt('Size of the license pool; leave empty for no limit.'),
      element: {
        type: 'number_input',
        action_id: VALUE_ACTION,
        is_decimal_allowed: false,
        min_value: '0',
        max_value: '1000000',
      },
    },
  ]);
}
