import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../bot/log.ts';

/**
 * How long a request's keys are remembered: past the signature's window (a timestamp up to
 * five minutes either side of now) and past Slack's event retries (at once, after 1 minute,
 * after 5 minutes; Slack docs, "Events API: error handling").
 */
export const SEEN_TTL_MS = 15 * 60_000;

/** Records a request's keys; false when any was already seen (the composition root gives it the database). */
export type ClaimRequest = (keys: readonly string[], ttlMs: number) => Promise<boolean>;

/**
 * The keys that identify one Slack request across its deliveries: its signature (a
 * byte-identical replay carries the same), the event id of an Events API callback (stable
 * across Slack's retries), and the trigger id of a slash command or an interaction (one per
 * user action). Null for requests with no effect worth guarding (URL verification).
 */
export function requestKeys(raw: Buffer, contentType: string | undefined, signature: string): string[] | null {
  const keys = [`slack:sig:${signature}`];
  const text = raw.toString('utf8');
  let body: Record<string, unknown> | null = null;
  try {
    if ((contentType ?? '').includes('application/json')) body = JSON.parse(text) as Record<string, unknown>;
    else {
      const form = new URLSearchParams(text);
      const payload = form.get('payload');
      body = payload !== null ? (JSON.parse(payload) as Record<string, unknown>) : Object.fromEntries(form);
    }
  } catch {
    // Malformed but signed: the signature alone identifies it.
  }
  if (body && typeof body === 'object') {
    if (body.type === 'url_verification') return null;
    if (typeof body.event_id === 'string' && body.event_id) keys.push(`slack:event:${body.event_id}`);
    if (typeof body.trigger_id === 'string' && body.trigger_id) keys.push(`slack:trigger:${body.trigger_id}`);
  }
  return keys;
}

/**
 * Express middleware after the signature check, before Bolt: a request seen before (a
 * Slack retry, `X-Slack-Retry-Num`, or a replay within the window) is acknowledged with an
 * empty 200 and not run again. Slack then stops retrying.
 */
export function dropRepeatedRequests(claim: ClaimRequest, log: Logger) {
  return async function dropRepeated(req: Request, res: Response, next: NextFunction): Promise<void> {
    const raw = (req as Request & { rawBody?: Buffer }).rawBody;
    const signature = req.header('x-slack-signature');
    if (!raw || !signature) return next();
    const keys = requestKeys(raw, req.header('content-type'), signature);
    if (!keys) return next();
    let fresh: boolean;
    try {
      fresh = await claim(keys, SEEN_TTL_MS);
    } catch (e) {
      // Better a refusal Slack may retry than a command run twice.
      log.error('slack: could not record the request; refused', { error: e instanceof Error ? e.message : String(e) });
      res.status(503).json({ error: 'unavailable' });
      return;
    }
    if (fresh) return next();
    log.info('slack: repeated request ignored', {
      retry: req.header('x-slack-retry-num') ?? null,
      kinds: keys.map((k) => k.split(':')[1]).join(','),
    });
    res.status(200).end();
  };
}
