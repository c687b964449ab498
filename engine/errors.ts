/**
 * Two tiers of errors (after errbot): a `UserError` is a known business refusal, shown to
 * the admin as is, with what to do; anything else is a bug or an outage, logged with a
 * reference id while the user gets only the reference.
 */
export class UserError extends Error {
  /** A stable machine-readable code, e.g. `ITEM_WAITING`. */
  readonly code: string;
  /** Optional usage line or hint shown under the message. */
  readonly hint?: string;
  /**
   * The input at fault, when one is: an option or argument name of the command (`source`, `NAME`), so a form shows the
   * refusal at that field.
   */
  readonly field?: string;
  constructor(code: string, message: string, hint?: string, field?: string) {
    super(message);
    this.name = 'UserError';
    this.code = code;
    this.hint = hint;
    this.field = field;
  }

  /** The same refusal, blamed on `field` (kept when it already names one). */
  at(field: string): UserError {
    return this.field ? this : new UserError(this.code, this.message, this.hint, field);
  }
}

/** True for errors meant to be shown to the user verbatim. */
export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
