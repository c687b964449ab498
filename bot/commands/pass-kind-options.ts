import type { OptionSpec, OptsOf } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { MAX_PRESTAGE_DAYS, type PassKind } from '../../engine/domain/pass-kind.ts';

/** `start`'s choice of pass: a pre-stage of old mail, or the full pass (the default). */
export const PASS_KIND_OPTIONS = [
  {
    name: 'prestage',
    kind: 'number',
    value: 'DAYS',
    integer: { min: 1, max: MAX_PRESTAGE_DAYS },
    summary:
      'Pre-stage: copy only mail older than DAYS days (by its received date). Repeat ' +
      'it as often as you like; a later full pass copies the rest, nothing twice.',
  },
  {
    name: 'full',
    kind: 'flag',
    summary: 'Full pass (the default): copy everything not copied yet, pre-staged mail included once.',
  },
] as const satisfies readonly OptionSpec[];

/**
 * The pass kind `start` was given: a full pass without either option. Kept on the item, so a
 * pass resumed after a restart is of the same kind. Both at once, or either with `--waiting`,
 * is refused.
 */
export function passKindOf(opts: OptsOf<typeof PASS_KIND_OPTIONS> & { waiting?: boolean }): PassKind {
  if (opts.prestage !== undefined && opts.full)
    throw new UserError(
      'PASS_KIND',
      'Give only one of --prestage DAYS and --full.',
      'A pre-stage copies old mail only; the full pass copies everything not copied yet.',
    );
  if ((opts.prestage !== undefined || opts.full) && opts.waiting)
    throw new UserError(
      'PASS_KIND',
      '--waiting sends requests again; it starts no pass, so --prestage and --full do not apply.',
    );
  return opts.prestage !== undefined ? { type: 'prestage', days: opts.prestage } : { type: 'full' };
}
