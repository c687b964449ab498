import { UserError } from '../../engine/errors.ts';
import { placeholder, type Command, type CommandInput } from '../commands/types.ts';
import { tokenize } from './tokenize.ts';
import { closest, distance } from '../../engine/domain/closest.ts';
import { argValue, optionOn, optionValue, requirePresent, type Fail } from './check-input.ts';

export { distance, optionOn };

/** The prefix every surface may or may not include. */
const PREFIX = /^\s*\/?migrate\b\s*/i;

/** The usage line of a command, derived from its definition; on a surface, without the options it cannot use. */
export function usage(def: Command, surface?: string): string {
  const parts = [`/migrate ${def.name}`];
  for (const a of def.args) parts.push(a.required ? a.name : `[${a.name}]`);
  for (const o of def.options) {
    if (!optionOn(o, surface)) continue;
    const flag = `--${o.name}${placeholder(o) ? ` ${placeholder(o)}` : ''}`;
    parts.push(o.required ? flag : `[${flag}]`);
  }
  return parts.join(' ');
}

/** A parsed line: the command definition and its validated input. */
export interface ParsedLine {
  def: Command;
  input: CommandInput;
}

/**
 * Parses one command line (with or without `/migrate`; further lines are the body, as a
 * pasted CSV) against the command definitions. Throws a UserError with a precise message
 * and the usage line for bad input.
 */
export function parseCommand(text: string, defs: readonly Command[], surface: string): ParsedLine {
  const [first = '', ...rest] = text.replace(/\r\n?/g, '\n').split('\n');
  const body = rest.join('\n').trim() || undefined;
  const words = tokenize(first.replace(PREFIX, ''));
  const [verb, sub] = words;
  if (verb === undefined) return { def: defs.find((d) => d.name === 'help')!, input: { args: {}, opts: {} } };

  const twoWord = sub !== undefined ? defs.find((d) => d.name === `${verb} ${sub}`.toLowerCase()) : undefined;
  const def = twoWord ?? defs.find((d) => d.name === verb.toLowerCase());
  if (!def) {
    const group = defs.filter((d) => d.name.startsWith(`${verb.toLowerCase()} `));
    if (group.length) {
      const names = group.map((d) => d.name.slice(d.name.indexOf(' ') + 1));
      const guess = sub ? closest(sub, names) : undefined;
      throw new UserError(
        'UNKNOWN_COMMAND',
        sub
          ? `Unknown command "${verb} ${sub}".${guess ? ` Did you mean "${verb} ${guess}"?` : ''}`
          : `"${verb}" needs a sub-command: ${names.join(', ')}.`,
        group.map((d) => usage(d, surface)).join('\n'),
      );
    }
    const guess = closest(verb, [...new Set(defs.map((d) => d.name.split(' ', 1)[0] ?? d.name))]);
    throw new UserError(
      'UNKNOWN_COMMAND',
      `Unknown command "${verb}".${guess ? ` Did you mean "${guess}"?` : ''}`,
      'Type `/migrate help` for the list of commands.',
    );
  }
  const tokens = words.slice(def.name.split(' ').length);
  const fail: Fail = (code, message, field) => {
    throw new UserError(code, message, `Usage: ${usage(def, surface)}`, field);
  };
  const { opts, positional } = readOptions(def, tokens, surface, fail);
  const args: Record<string, string> = {};
  def.args.forEach((a, i) => {
    const v = positional[i];
    if (v !== undefined) args[a.name] = argValue(a, v, fail);
    else if (a.required) fail('MISSING_ARGUMENT', `${a.name.toLowerCase().replace(/_/g, ' ')} is missing.`, a.name);
  });
  if (positional.length > def.args.length) fail('UNEXPECTED_ARGUMENT', `Unexpected "${positional[def.args.length]}".`);
  if (body && !def.body) fail('UNEXPECTED_BODY', `"${def.name}" takes a single line.`);
  // Each value was made by its spec (optionValue), so it has the type the spec names.
  const input: CommandInput = { args, opts: opts as CommandInput['opts'], body };
  requirePresent(def, input, fail);
  return { def, input };
}

/** The options of a command's words, typed by their specs, and the words that are not options. */
function readOptions(
  def: Command,
  tokens: string[],
  surface: string,
  fail: Fail,
): { opts: Record<string, unknown>; positional: string[] } {
  const opts: Record<string, unknown> = {};
  const positional: string[] = [];
  const queue = [...tokens];
  for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
    if (!t.startsWith('--') || t === '--') {
      positional.push(t);
      continue;
    }
    const eq = t.indexOf('=');
    const name = (eq > 0 ? t.slice(2, eq) : t.slice(2)).toLowerCase();
    const o = def.options.find((x) => x.name === name);
    if (!o) {
      const guess = closest(
        name,
        def.options.map((x) => x.name),
      );
      return fail(
        'UNKNOWN_OPTION',
        `Unknown option --${name} for "${def.name}".${guess ? ` Did you mean --${guess}?` : ''}`,
      );
    }
    if (o.surfaces && !o.surfaces.includes(surface))
      fail('OPTION_NOT_HERE', `--${o.name} is only available in the ${o.surfaces.join(' or ')}.`, o.name);
    if (name in opts) fail('REPEATED_OPTION', `--${name} is given twice.`, o.name);
    if (o.kind === 'flag') {
      if (eq > 0) fail('OPTION_TAKES_NO_VALUE', `--${name} takes no value.`, o.name);
      opts[name] = true;
      continue;
    }
    let value: string;
    if (eq > 0) value = t.slice(eq + 1);
    else {
      const next = queue.shift();
      if (next === undefined || (next.startsWith('--') && next !== '--'))
        return fail('OPTION_VALUE_MISSING', `--${name} needs a value (${placeholder(o)}).`, o.name);
      value = next;
    }
    opts[name] = optionValue(o, value, fail);
  }
  return { opts, positional };
}

/**
 * Parses the words after one known command's name (`--ask both` for `bulk`) into that
 * command's typed input; refuses as `parseCommand` does.
 */
export function parseFor<As extends Command['args'], Os extends Command['options']>(
  def: Command<As, Os>,
  rest: string,
  surface: string,
): CommandInput<As, Os> {
  const only: Command = def;
  // Parsed against this one definition, so the values are the ones its specs type.
  return parseCommand(`${def.name} ${rest}`, [only], surface).input as CommandInput<As, Os>;
}
