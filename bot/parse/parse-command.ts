import { UserError } from '../../engine/errors.ts';
import { normaliseAddress } from '../../engine/domain/addresses.ts';
import type { CommandDef, ParsedArgs } from '../commands/types.ts';
import { tokenize } from './tokenize.ts';
import { closest, distance } from '../../engine/domain/closest.ts';

export { distance };

/** The prefix every surface may or may not include. */
const PREFIX = /^\s*\/?migrate\b\s*/i;

/** True when an option can be used on `surface` (every option when no surface is named). */
export function optionOn(o: { surfaces?: readonly string[] }, surface?: string): boolean {
  return !surface || !o.surfaces || o.surfaces.includes(surface);
}

/** The usage line of a command, derived from its definition; on a surface, without the options it cannot use. */
export function usage(def: CommandDef, surface?: string): string {
  const parts = [`/migrate ${def.name}`];
  for (const a of def.args) parts.push(a.required ? a.name : `[${a.name}]`);
  for (const o of def.options) if (optionOn(o, surface)) parts.push(`[--${o.name}${o.value ? ` ${o.value}` : ''}]`);
  return parts.join(' ');
}

/** A parsed line: the command definition and its validated input. */
export interface ParsedLine {
  def: CommandDef;
  input: ParsedArgs;
}

/**
 * Parses one command line (with or without `/migrate`; further lines are the body, as a
 * pasted CSV) against the command definitions. Throws a UserError with a precise message
 * and the usage line for bad input.
 */
export function parseCommand(text: string, defs: readonly CommandDef[], surface: string): ParsedLine {
  const [first, ...rest] = text.replace(/\r\n?/g, '\n').split('\n');
  const body = rest.join('\n').trim() || undefined;
  const words = tokenize(first.replace(PREFIX, ''));
  if (words.length === 0) return { def: defs.find((d) => d.name === 'help')!, input: { args: {}, opts: {} } };

  const twoWord = words.length > 1 ? defs.find((d) => d.name === `${words[0]} ${words[1]}`.toLowerCase()) : undefined;
  const def = twoWord ?? defs.find((d) => d.name === words[0].toLowerCase());
  if (!def) {
    const group = defs.filter((d) => d.name.startsWith(`${words[0].toLowerCase()} `));
    if (group.length) {
      const sub = words[1];
      const names = group.map((d) => d.name.split(' ')[1]);
      const guess = sub ? closest(sub, names) : undefined;
      throw new UserError(
        'UNKNOWN_COMMAND',
        sub ? `Unknown command "${words[0]} ${sub}".${guess ? ` Did you mean "${words[0]} ${guess}"?` : ''}` : `"${words[0]}" needs a sub-command: ${names.join(', ')}.`,
        group.map((d) => usage(d, surface)).join('\n'),
      );
    }
    const guess = closest(words[0], [...new Set(defs.map((d) => d.name.split(' ')[0]))]);
    throw new UserError('UNKNOWN_COMMAND', `Unknown command "${words[0]}".${guess ? ` Did you mean "${guess}"?` : ''}`, 'Type `/migrate help` for the list of commands.');
  }
  const tokens = words.slice(def.name.split(' ').length);
  const fail = (code: string, message: string): never => {
    throw new UserError(code, message, `Usage: ${usage(def, surface)}`);
  };

  const opts: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!t.startsWith('--') || t === '--') {
      positional.push(t);
      continue;
    }
    const eq = t.indexOf('=');
    const name = (eq > 0 ? t.slice(2, eq) : t.slice(2)).toLowerCase();
    const opt = def.options.find((o) => o.name === name);
    if (!opt) {
      const guess = closest(name, def.options.map((o) => o.name));
      fail('UNKNOWN_OPTION', `Unknown option --${name} for "${def.name}".${guess ? ` Did you mean --${guess}?` : ''}`);
    }
    const o = opt!;
    if (o.surfaces && !o.surfaces.includes(surface)) fail('OPTION_NOT_HERE', `--${o.name} is only available in the ${o.surfaces.join(' or ')}.`);
    if (name in opts) fail('REPEATED_OPTION', `--${name} is given twice.`);
    if (!o.value) {
      if (eq > 0) fail('OPTION_TAKES_NO_VALUE', `--${name} takes no value.`);
      opts[name] = true;
      continue;
    }
    let value: string;
    if (eq > 0) value = t.slice(eq + 1);
    else {
      if (i + 1 >= tokens.length || (tokens[i + 1].startsWith('--') && tokens[i + 1] !== '--')) fail('OPTION_VALUE_MISSING', `--${name} needs a value (${o.value}).`);
      value = tokens[++i];
    }
    if (o.choices && !o.choices.includes(value.toLowerCase())) {
      const guess = closest(value, o.choices);
      fail('OPTION_VALUE', `--${name} must be one of ${o.choices.join(', ')}; got "${value}".${guess ? ` Did you mean "${guess}"?` : ''}`);
    }
    if (o.choices) value = value.toLowerCase();
    if (o.integer) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < o.integer.min || n > o.integer.max)
        fail('OPTION_VALUE', `--${name} must be a whole number from ${o.integer.min} to ${o.integer.max}; got "${value}".`);
    }
    opts[name] = value;
  }

  const args: Record<string, string> = {};
  def.args.forEach((a, i) => {
    const v = positional[i];
    if (v === undefined) {
      if (a.required) fail('MISSING_ARGUMENT', `${a.name.toLowerCase().replace(/_/g, ' ')} is missing.`);
      return;
    }
    try {
      args[a.name] = a.kind === 'address' ? normaliseAddress(v, a.name.toLowerCase().replace(/_/g, ' ')) : v;
    } catch (e) {
      if (e instanceof UserError) fail(e.code, e.message);
      throw e;
    }
  });
  if (positional.length > def.args.length) fail('UNEXPECTED_ARGUMENT', `Unexpected "${positional[def.args.length]}".`);
  if (body && !def.body) fail('UNEXPECTED_BODY', `"${def.name}" takes a single line.`);
  return { def, input: { args, opts, body } };
}
