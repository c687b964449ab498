import type { OptionSpec, OptsOf } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { dayStart } from '../../engine/domain/pass-kind.ts';
import type { ProjectOptions } from '../../engine/domain/project-options.ts';

/** A project's date range: every pass copies only mail received within it (retention rules). */
export const DATE_RANGE_OPTIONS = [
  {
    name: 'since',
    kind: 'string',
    value: 'YYYY-MM-DD|off',
    summary: 'Copy only mail received on or after this day (UTC), on every pass; off: no lower limit.',
  },
  {
    name: 'until',
    kind: 'string',
    value: 'YYYY-MM-DD|off',
    summary:
      'Copy only mail received on or before this day (UTC, the day included), on every pass; off: no upper limit.',
  },
] as const satisfies readonly OptionSpec[];

function parseDay(raw: string, name: 'since' | 'until'): string | undefined {
  const v = raw.trim();
  if (v.toLowerCase() === 'off') return undefined;
  if (!dayStart(v))
    throw new UserError(
      'BAD_DATE',
      `"${raw}" is not a day for --${name}: expected YYYY-MM-DD, e.g. --${name} 2020-01-31, or off.`,
      undefined,
      name,
    );
  return v;
}

/**
 * Reads `--since` / `--until` into `options` (a day or undefined for off) and says what
 * changed in `changes`. The range the project ends up with (the stored bound kept where only
 * the other is given) must not be empty.
 */
export function readDateRange(
  opts: OptsOf<typeof DATE_RANGE_OPTIONS>,
  stored: ProjectOptions,
  options: ProjectOptions,
  changes: string[],
): void {
  for (const name of ['since', 'until'] as const) {
    const raw = opts[name];
    if (raw === undefined) continue;
    options[name] = parseDay(raw, name);
    changes.push(
      options[name]
        ? `only mail received ${name === 'since' ? 'on or after' : 'on or before'} ${options[name]}`
        : `no ${name === 'since' ? 'lower' : 'upper'} date limit`,
    );
  }
  const since = 'since' in options ? options.since : stored.since;
  const until = 'until' in options ? options.until : stored.until;
  if (since && until && since > until)
    throw new UserError(
      'BAD_DATE',
      `The range from ${since} to ${until} is empty: --since must be on or before --until.`,
    );
}
