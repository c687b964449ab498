/**
 * Adaptive-card form values → the command they run, with its typed input. The forms are
 * only another way to give the same commands: the dispatcher checks the input by the
 * rules a typed command line meets, the engine refuses what it refuses, and the card
 * shows why, at the field the refusal names.
 */
import type { Dispatcher, DispatchResult, IncomingForm } from '../../bot/dispatch.ts';
import type { Command, CommandInput } from '../../bot/commands/types.ts';
import { add, ASK_OPTION, NOTIFY_OPTION, type AddOptions } from '../../bot/commands/add.ts';
import { bulk } from '../../bot/commands/bulk.ts';
import { projectCreate } from '../../bot/commands/project-create.ts';
import { NOTIFY_SETTING, SELF_SERVICE_SETTING } from '../../bot/commands/shared.ts';
import { formChoice } from '../../bot/parse/check-input.ts';
import { UserError } from '../../engine/errors.ts';

/** Values an Action.Execute / Action.Submit carries (inputs and action data, flattened). */
export type FormValues = Record<string, unknown>;

/** A string value of a form, trimmed ('' when absent or when a choice says "the default"). */
export function field(v: FormValues, name: string): string {
  const x = v[name];
  const s = typeof x === 'string' ? x.trim() : typeof x === 'number' ? String(x) : '';
  // Choice sets cannot have an empty value (the Adaptive Cards validator refuses it).
  return s === 'default' ? '' : s;
}

/** A form's command with its typed input, run as the person who submitted the form. */
export interface FormRun {
  /** The command's name (`add`, `bulk`, `project create`). */
  name: string;
  /** The CSV lines of a bulk add. */
  body?: string;
  run(dispatcher: Pick<Dispatcher, 'run'>, who: IncomingForm): Promise<DispatchResult>;
}

/** The card input of each command input the forms have (arguments and options by their command names). */
const INPUT_OF: Record<string, string> = {
  SOURCE_ADDRESS: 'addresses',
  DESTINATION_ADDRESS: 'addresses',
  NAME: 'name',
  'self-service': 'selfService',
};

/** The card input where a refusal about a command input (`UserError.field`) shows. */
export function cardInputOf(commandField: string | undefined): string | undefined {
  return commandField && (INPUT_OF[commandField] ?? commandField);
}

/** The outcome of reading a form: the command to run, or what the card must say is wrong (and at which card input). */
export type FormCommand = FormRun | { error: string; field?: string };

/** `def` with `input`, to run later as the form's submitter. */
export function formRun<As extends Command['args'], Os extends Command['options']>(
  def: Command<As, Os>,
  input: CommandInput<As, Os>,
): FormRun {
  return {
    name: def.name,
    ...(input.body !== undefined ? { body: input.body } : {}),
    run: (d, who) => d.run(def, input, who),
  };
}

/** Reads a form with `read`; a choice that is not one of the command's is the form's error at that input. */
function reading(read: () => FormCommand): FormCommand {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return { error: e.message, ...(e.field ? { field: cardInputOf(e.field) } : {}) };
  }
}

/** `--project` of a card that knows its project. */
export function projectOf(v: FormValues): string | undefined {
  return field(v, 'project') || undefined;
}

function addOptions(v: FormValues): AddOptions {
  return {
    ask: formChoice(ASK_OPTION, field(v, 'ask')),
    notify: formChoice(NOTIFY_OPTION, field(v, 'notify')),
    project: projectOf(v),
  };
}

/**
 * "Add mailboxes": one address per line, optionally `, destination` (or a space or `→`).
 * One line is an `add`, several a `bulk` with CSV lines, so each line is checked the same
 * way as typed commands.
 */
export function addCommand(v: FormValues): FormCommand {
  const rows = field(v, 'addresses')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.split(/\s*(?:,|;|→|->|\s)\s*/).filter(Boolean));
  const [first] = rows;
  if (!first) return { error: 'Enter at least one mailbox address.', field: 'addresses' };
  const bad = rows.findIndex((r) => r.length > 2);
  if (bad >= 0)
    return {
      error:
        `Line ${bad + 1} has more than two addresses. Write one mailbox ` +
        `per line: source address, then optionally the destination address.`,
      field: 'addresses',
    };
  return reading(() => {
    const opts = addOptions(v);
    if (rows.length === 1)
      return formRun(add, { args: { SOURCE_ADDRESS: first[0] ?? '', DESTINATION_ADDRESS: first[1] }, opts });
    return formRun(bulk, { args: {}, opts, body: rows.map((r) => r.join(',')).join('\n') });
  });
}

/** "Bulk add": the pasted CSV is the body of `bulk`. */
export function bulkCommand(v: FormValues): FormCommand {
  const csv = field(v, 'csv');
  if (!csv)
    return { error: 'Paste at least one CSV line: source,destination[,source_login,destination_login].', field: 'csv' };
  return reading(() => formRun(bulk, { args: {}, opts: addOptions(v), body: csv }));
}

/** "New project": `project create` with the name, both servers and the defaults. */
export function projectCommand(v: FormValues): FormCommand {
  const missing = [
    ['name', 'a name'],
    ['source', 'the source server'],
    ['destination', 'the destination server'],
  ].filter(([f]) => !field(v, f ?? ''));
  if (missing.length)
    return {
      error: `Give ${missing.map(([, w]) => w).join(', ')}.`,
      ...(missing.length === 1 && missing[0]?.[0] ? { field: missing[0][0] } : {}),
    };
  const licenses = field(v, 'licenses');
  return reading(() =>
    formRun(projectCreate, {
      args: { NAME: field(v, 'name') },
      opts: {
        source: field(v, 'source'),
        destination: field(v, 'destination'),
        'self-service': formChoice(SELF_SERVICE_SETTING, field(v, 'selfService')),
        notify: formChoice(NOTIFY_SETTING, field(v, 'notify')),
        licenses: licenses ? Number(licenses) : undefined,
      },
    }),
  );
}
