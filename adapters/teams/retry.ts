import type { TurnContext } from 'botbuilder';

/** How hard to insist when the Bot Connector says "too many requests" or "unavailable". */
export interface RetryOptions {
  /** Attempts in all, the first included (default 4). */
  attempts: number;
  /** First wait when the service gives no Retry-After, doubled each time (default 1 s). */
  baseDelayMs: number;
  /** Longest single wait (default 15 s). */
  maxDelayMs: number;
}

/**
 * Defaults: a short, in-place patience (well under the notifier's 60 s outbox lease). A
 * post still refused after that is handed back to the notifier, whose database outbox
 * retries it later with back-off, so it is not lost.
 */
export const DEFAULT_RETRY: RetryOptions = { attempts: 4, baseDelayMs: 1000, maxDelayMs: 15_000 };

/** The HTTP status of an error the Bot Framework connector threw, if any. */
export function statusOf(e: unknown): number | undefined {
  const x = e as { statusCode?: number; status?: number; response?: { status?: number } } | null;
  return x?.statusCode ?? x?.response?.status ?? (typeof x?.status === 'number' ? x.status : undefined);
}

function retryAfterMs(e: unknown): number | undefined {
  const h = (
    e as { response?: { headers?: { get?: (n: string) => string | undefined } | Record<string, string> } } | null
  )?.response?.headers;
  const raw =
    h && typeof (h as { get?: unknown }).get === 'function'
      ? (h as { get: (n: string) => string | undefined }).get('retry-after')
      : (h as Record<string, string> | undefined)?.['retry-after'];
  if (!raw) return undefined;
  const s = Number(raw);
  if (Number.isFinite(s)) return s * 1000;
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * Runs `fn`, retrying while the connector answers 429 (throttled) or 503 (unavailable),
 * as Teams' rate-limit guidance asks: honour Retry-After, otherwise back off
 * exponentially. Other errors are thrown at once.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  opts: RetryOptions = DEFAULT_RETRY,
  onRetry?: (status: number, waitMs: number, attempt: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const status = statusOf(e);
      if ((status !== 429 && status !== 503) || attempt >= opts.attempts) throw e;
      const wait = Math.min(opts.maxDelayMs, retryAfterMs(e) ?? opts.baseDelayMs * 2 ** (attempt - 1));
      onRetry?.(status, wait, attempt);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * Runs proactive logic and rethrows what failed inside it. CloudAdapter hands errors of a
 * turn to `onTurnError` and returns normally, so without this a refused post would look
 * delivered to the caller (and the notifier would not retry it).
 */
export async function proactive(
  start: (logic: (context: TurnContext) => Promise<void>) => Promise<void>,
  logic: (context: TurnContext) => Promise<void>,
): Promise<void> {
  let failure: { error: unknown } | undefined;
  await start(async (context) => {
    try {
      await logic(context);
    } catch (error) {
      failure = { error };
    }
  });
  if (failure) throw failure.error;
}
