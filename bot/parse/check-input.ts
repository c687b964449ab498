import { UserError } from '../../engine/errors.ts';
import { normaliseAddress } from '../../engine/domain/addresses.ts';
import { closest } from '../../engine/domain/closest.ts';
import type { ArgSpec, Command, CommandInput, EnumOption, NumberOption, OptionSpec } from '../commands/types.ts';

/** Throws the refusal of one input, blamed on the field (option or argument name) at fault. */
export type Fail = (code: string, message: string, field?: string) => never;

/** True when an option can be used on `surface` (every option when no surface is named). */
export function optionOn(o: { surfaces?: readonly string[] }, surface?: string): boolean {
  return !surface || !o.surfaces || o.surfaces.includes(surface);
}

/** An argument's value as the handler gets it (addresses normalised and checked). */
export function argValue(a: ArgSpec, raw: string, fail: Fail): string {
  if (a.kind !== 'address') return raw;
  try {
    return normaliseAddress(raw, a.name.toLowerCase().replace(/_/g, ' '));
  } catch (e) {
    if (e instanceof UserError) fail(e.code, e.message, a.name);
    throw e;
  }
}

/** One of an enum option's literals; what else was given is refused with the closest one. */
export function enumValue<C extends string>(o: EnumOption<C>, raw: string, fail: Fail): C {
  const value = o.choices.find((c) => c === raw.toLowerCase());
  if (value !== undefined) return value;
  const guess = closest(raw, o.choices);
  return fail(
    'OPTION_VALUE',
    `--${o.name} must be one of ${o.choices.join(', ')}; got "${raw}".${guess ? ` Did you mean "${guess}"?` : ''}`,
    o.name,
  );
}

/**
 * A form's choice (a radio button, a choice set) as the option's literal; absent stays
 * absent, anything else is refused as the parser refuses it, blamed on the option.
 */
export function formChoice<C extends string>(o: EnumOption<C>, raw: string | undefined): C | undefined {
  if (!raw) return undefined;
  return enumValue(o, raw, (code, message, field) => {
    throw new UserError(code, message, undefined, field);
  });
}

/** A number option's value, refused outside its bounds or when not whole. */
export function numberValue(o: NumberOption, n: number, raw: string, fail: Fail): number {
  if (!Number.isInteger(n) || n < o.integer.min || n > o.integer.max)
    fail(
      'OPTION_VALUE',
      `--${o.name} must be a whole number from ${o.integer.min} to ${o.integer.max}; got "${raw}".`,
      o.name,
    );
  return n;
}

/** An option's typed value from the text typed after it (`true` for a flag). */
export function optionValue(o: OptionSpec, raw: string | true, fail: Fail): unknown {
  if (raw === true) return true;
  switch (o.kind) {
    case 'flag':
      return true;
    case 'string':
      return raw;
    case 'enum':
      return enumValue(o, raw, fail);
    case 'number':
      return numberValue(o, Number(raw), raw, fail);
    case 'list':
      try {
        return o.parse
          ? [...o.parse(raw)]
          : raw
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
      } catch (e) {
        // The option's own refusal says what it expects: kept as it is, blamed on the option.
        throw e instanceof UserError ? e.at(o.name) : e;
      }
  }
}

/** Refuses a command whose required arguments or options are missing. */
export function requirePresent(def: Command, input: CommandInput, fail: Fail): void {
  const args = input.args as Record<string, unknown>;
  const opts = input.opts as Record<string, unknown>;
  for (const a of def.args)
    if (a.required && args[a.name] === undefined)
      fail('MISSING_ARGUMENT', `${a.name.toLowerCase().replace(/_/g, ' ')} is missing.`, a.name);
  // Named all together, as the usage line shows them.
  const required = def.options.filter((o) => o.required);
  const missing = required.find((o) => opts[o.name] === undefined);
  if (missing)
    fail('MISSING_OPTION', `"${def.name}" needs ${required.map((o) => `--${o.name}`).join(' and ')}.`, missing.name);
}

/** Checks an option value a form gave (typed already) as the parser checks a typed one. */
function checkOption(o: OptionSpec, v: unknown, surface: string, fail: Fail): unknown {
  if (!optionOn(o, surface))
    fail('OPTION_NOT_HERE', `--${o.name} is only available in the ${o.surfaces?.join(' or ')}.`, o.name);
  switch (o.kind) {
    case 'flag':
      return v === true;
    case 'enum':
      return enumValue(o, String(v), fail);
    case 'number':
      return numberValue(o, typeof v === 'number' ? v : Number(v), String(v), fail);
    case 'list':
      return Array.isArray(v) ? v : optionValue(o, String(v), fail);
    case 'string':
      return String(v);
  }
}

/**
 * Validates the typed input a form gives `Dispatcher.run`: the same rules as the text
 * grammar (addresses, choices, bounds, required inputs), absent values left out.
 * Throws a UserError blamed on the field at fault.
 */
export function checkInput<As extends Command['args'], Os extends Command['options']>(
  def: Command<As, Os>,
  input: CommandInput<As, Os>,
  surface: string,
  hint?: string,
): CommandInput<As, Os> {
  const spec: Command = def;
  const fail: Fail = (code, message, field) => {
    throw new UserError(code, message, hint, field);
  };
  const given = { args: input.args as Record<string, unknown>, opts: input.opts as Record<string, unknown> };
  const args: Record<string, string> = {};
  const opts: Record<string, unknown> = {};
  for (const a of spec.args) {
    const v = given.args[a.name];
    if (v !== undefined && v !== '') args[a.name] = argValue(a, String(v), fail);
  }
  for (const o of spec.options) {
    const v = given.opts[o.name];
    if (v !== undefined && v !== '' && v !== false) opts[o.name] = checkOption(o, v, surface, fail);
  }
  const out: CommandInput = {
    args,
    opts: opts as CommandInput['opts'],
    ...(input.body !== undefined ? { body: input.body } : {}),
  };
  requirePresent(spec, out, fail);
  // Every value was checked against the spec of its name above.
  return out as CommandInput<As, Os>;
}
