/**
 * Adaptive-card form values → the command line every surface types. The forms are only
 * another way to write the same commands: one parser, one set of rules (the dispatcher
 * refuses what the parser or the engine refuses, and the card shows why).
 */

/** Values an Action.Execute / Action.Submit carries (inputs and action data, flattened). */
export type FormValues = Record<string, unknown>;

/** A string value of a form, trimmed ('' when absent or when a choice says "the default"). */
export function field(v: FormValues, name: string): string {
  const x = v[name];
  const s = typeof x === 'string' ? x.trim() : typeof x === 'number' ? String(x) : '';
  // Choice sets cannot have an empty value (the Adaptive Cards validator refuses it).
  return s === 'default' ? '' : s;
}

/** Quotes a word for the command tokenizer (bot/parse/tokenize.ts) when it needs it. */
export function quote(word: string): string {
  return /^[^\s"'\\]+$/.test(word) ? word : `"${word.replace(/["\\]/g, '\\$&')}"`;
}

function options(v: FormValues, names: [field: string, flag: string][]): string {
  return names
    .map(([f, flag]) => (field(v, f) ? ` --${flag} ${quote(field(v, f))}` : ''))
    .join('');
}

/** The outcome of reading a form: a command line, or what the card must say is wrong. */
export type FormCommand = { text: string } | { error: string };

/**
 * "Add mailboxes": one address per line, optionally `, destination` (or a space or `→`).
 * One line becomes `add`, several become `bulk` with CSV lines, so each line is checked
 * the same way as typed commands.
 */
export function addCommand(v: FormValues): FormCommand {
  const rows = field(v, 'addresses')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.split(/\s*(?:,|;|→|->|\s)\s*/).filter(Boolean));
  if (!rows.length) return { error: 'Enter at least one mailbox address.' };
  const bad = rows.findIndex((r) => r.length > 2);
  if (bad >= 0) return { error: `Line ${bad + 1} has more than two addresses. Write one mailbox per line: source address, then optionally the destination address.` };
  const opts = options(v, [
    ['ask', 'ask'],
    ['notify', 'notify'],
    ['project', 'project'],
  ]);
  if (rows.length === 1) return { text: `add ${rows[0].map(quote).join(' ')}${opts}` };
  return { text: `bulk${opts}\n${rows.map((r) => r.join(',')).join('\n')}` };
}

/** "Bulk add": the pasted CSV goes under `bulk`. */
export function bulkCommand(v: FormValues): FormCommand {
  const csv = field(v, 'csv');
  if (!csv) return { error: 'Paste at least one CSV line: source,destination[,source_login,destination_login].' };
  return {
    text: `bulk${options(v, [
      ['ask', 'ask'],
      ['notify', 'notify'],
      ['project', 'project'],
    ])}\n${csv}`,
  };
}

/** "New project": `project create NAME --source URL --destination URL …`. */
export function projectCommand(v: FormValues): FormCommand {
  const missing = [
    ['name', 'a name'],
    ['source', 'the source server'],
    ['destination', 'the destination server'],
  ].filter(([f]) => !field(v, f));
  if (missing.length) return { error: `Give ${missing.map(([, w]) => w).join(', ')}.` };
  return {
    text: `project create ${quote(field(v, 'name'))}${options(v, [
      ['source', 'source'],
      ['destination', 'destination'],
      ['selfService', 'self-service'],
      ['notify', 'notify'],
      ['licenses', 'licenses'],
    ])}`,
  };
}

/** `--project NAME` when the card knows its project. */
export function projectOption(v: FormValues): string {
  return field(v, 'project') ? ` --project ${quote(field(v, 'project'))}` : '';
}
