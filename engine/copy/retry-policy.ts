import { classifyImapError, errorDetail, failureReasonFor, throttleHintMs } from '../connectors/imap/classify-error.ts';
import { CopyError, type PassFailureReason } from './types.ts';

type Side = 'source' | 'destination';

/** The longest wait between two attempts after a dropped connection. */
const MAX_BACKOFF_MS = 30_000;

/** What the retry policy needs to know besides the error; every field a plain value. */
export interface RetryContext {
  /** Failed attempts since the work last made progress (before this error). */
  attempt: number;
  /** Errors of the pass so far (before this one). */
  errors: number;
  /** The pass was asked to stop. */
  stopping: boolean;
  /** The work is a folder copy (a folder can be reported, or created on the destination). */
  inFolder: boolean;
  /** The folder was already created on demand once in this pass. */
  folderCreated: boolean;
  maxErrors: number;
  maxRetries: number;
  retryBaseMs: number;
}

/**
 * What to do after a failed attempt:
 * - `create-folder`: create the destination folder and try again at once (TRYCREATE);
 * - `folder-done`: the folder is reported with `error`, the pass goes on with the others;
 * - `fail`: the pass ends with this reason;
 * - `stop`: the pass was stopping; the work is left for the next pass;
 * - `wait`: throttled; wait `ms` and try again (no error counted, the attempt neither);
 * - `backoff`: wait `ms` and try again (one more attempt).
 *
 * `countsError` says whether the failure counts among the pass's errors; `folderError`, what
 * the failed folder reports when the pass ends on a folder the destination refused.
 */
export type RetryDecision =
  | { action: 'create-folder'; countsError: false }
  | { action: 'folder-done'; error: string; countsError: true }
  | { action: 'fail'; reason: PassFailureReason; detail: string; countsError: boolean; folderError?: string }
  | { action: 'stop'; countsError: false }
  | { action: 'wait'; ms: number; countsError: false }
  | { action: 'backoff'; ms: number; countsError: true };

/** The side an error came from (tagged by `onSide`), or undefined when it came from neither server. */
export function sideOf(err: unknown): Side | undefined {
  const s = typeof err === 'object' && err !== null && 'side' in err ? err.side : undefined;
  return s === 'source' || s === 'destination' ? s : undefined;
}

/**
 * An error that is ours, not a server's: a bug (TypeError and the like) thrown outside
 * any IMAP command. Such an error is never retried as if a server had failed.
 */
export function isOwnBug(err: unknown): err is Error {
  return (
    sideOf(err) === undefined &&
    (err instanceof TypeError ||
      err instanceof ReferenceError ||
      err instanceof RangeError ||
      err instanceof SyntaxError)
  );
}

/**
 * A throttled command leaves its connection in order: it is kept rather than logged in again (one more request to a
 * server that asked us to slow down).
 */
export function keepsConnections(err: unknown): boolean {
  return classifyImapError(err) === 'throttled';
}

/** How long imapflow already waited of a throttle hint before it gave up the command. */
function throttleWaited(err: unknown): number {
  const w = typeof err === 'object' && err !== null && 'throttleWaited' in err ? err.throttleWaited : undefined;
  return typeof w === 'number' ? w : 0;
}

/** Errors of the engine itself (CopyError) and bugs: never retried as a server's failure. */
function ownDecision(err: unknown, ctx: RetryContext): RetryDecision | null {
  if (err instanceof CopyError && err.code === 'DESTINATION_FOLDER_MISSING' && ctx.inFolder && !ctx.folderCreated) {
    // The destination lost (or never had) the folder we append to: create it and retry the
    // folder from its checkpoint (the intent covers what went in). A second time ends the pass.
    return { action: 'create-folder', countsError: false };
  }
  if (err instanceof CopyError && err.code === 'FOLDER_REFUSED' && ctx.inFolder) {
    // One folder the destination will not take: report it, go on with the others.
    if (ctx.errors + 1 > ctx.maxErrors) {
      return {
        action: 'fail',
        reason: err.reason,
        detail: `more than ${ctx.maxErrors} errors; last: ${err.message}`,
        countsError: true,
        folderError: err.message,
      };
    }
    return { action: 'folder-done', error: err.message, countsError: true };
  }
  if (err instanceof CopyError) return { action: 'fail', reason: err.reason, detail: err.message, countsError: false };
  if (isOwnBug(err))
    return {
      action: 'fail',
      reason: 'Internal',
      detail: `internal error: ${err.name}: ${err.message}`.slice(0, 500),
      countsError: false,
    };
  return null;
}

/**
 * The retry policy of a pass: what to do after `err` ended an attempt. Pure: it reads the
 * error and the context and decides; waiting, reconnecting and counting are the caller's.
 * Refused credentials and quota end the pass; a throttle waits out the server's hint (1 s
 * without one), uncounted and without limit; any other server failure backs off (from
 * `retryBaseMs`, doubling up to 30 s) until `maxRetries` attempts without progress or
 * `maxErrors` errors in the pass.
 */
export function retryDecision(err: unknown, ctx: RetryContext): RetryDecision {
  const own = ownDecision(err, ctx);
  if (own) return own;
  const kind = classifyImapError(err);
  const side = sideOf(err);
  const detail = side ? `${side}: ${errorDetail(err)}` : errorDetail(err);
  if (kind === 'refused' || kind === 'quota')
    return { action: 'fail', reason: failureReasonFor(kind, side), detail, countsError: false };
  // Stopping: a throttle is not waited out, and a connection the stop dropped is no error.
  if (ctx.stopping && (kind === 'throttled' || kind === 'unreachable')) return { action: 'stop', countsError: false };
  if (kind === 'throttled') {
    // imapflow already waited part of the server's hint; wait out the rest.
    const hint = throttleHintMs(err);
    return {
      action: 'wait',
      ms: hint === undefined ? 1000 : Math.max(0, hint - throttleWaited(err)),
      countsError: false,
    };
  }
  const attempt = ctx.attempt + 1;
  if (ctx.errors + 1 > ctx.maxErrors)
    return {
      action: 'fail',
      reason: failureReasonFor(kind, side),
      detail: `more than ${ctx.maxErrors} errors; last: ${detail}`,
      countsError: true,
    };
  if (attempt > ctx.maxRetries)
    return {
      action: 'fail',
      reason: failureReasonFor(kind, side),
      detail: `gave up after ${ctx.maxRetries} retries: ${detail}`,
      countsError: true,
    };
  return { action: 'backoff', ms: Math.min(MAX_BACKOFF_MS, ctx.retryBaseMs * 2 ** (attempt - 1)), countsError: true };
}
