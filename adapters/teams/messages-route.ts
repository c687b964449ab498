import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { CloudAdapter, type Activity, type TurnContext } from 'botbuilder';
import { AuthenticationError } from 'botframework-connector';
import type { Logger } from '../../bot/log.ts';

/**
 * Largest activity accepted. A Teams message is at most about 28 KB and a card submission
 * is smaller; attachments arrive as links, not inline. Larger bodies are refused unread.
 */
export const MAX_ACTIVITY_BYTES = 256 * 1024;

/** A `Bearer` header holding something shaped like a JWT (three base64url parts), of a sane length. */
const BEARER_JWT = /^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_AUTH_HEADER = 16 * 1024;

/**
 * CloudAdapter with its turn processing reachable directly: `process()` writes raw errors
 * to stderr (`console.error`, bypassing our redacting logger) and answers malformed bodies
 * with a 500, so the route below does its own checks and answers and calls this instead.
 */
export class MailFerryCloudAdapter extends CloudAdapter {
  /** Authenticates the request (throws AuthenticationError) and runs the turn; the invoke response, if any. */
  async handle(authHeader: string, activity: Activity, logic: (context: TurnContext) => Promise<void>) {
    return this.processActivity(authHeader, activity, logic);
  }
}

/** A short JSON refusal (the final error handler's shape). */
function refuse(res: Response, status: number, error: string): void {
  res.status(status).json({ error });
}

/**
 * The handlers of `POST /api/messages`, in order: with an app id configured, a request
 * without a Bearer JWT-shaped Authorization header is refused before its body is read (so
 * no unauthenticated body is ever parsed); then a JSON body parser with a size limit; then
 * the activity's shape; then the adapter, which checks the token itself. Every refusal is
 * short JSON, logged through our logger without the token or the body.
 */
export function messagesRoute(
  adapter: MailFerryCloudAdapter,
  authenticated: boolean,
  log: Logger,
  logic: (context: TurnContext) => Promise<void>,
): Router {
  const router = express.Router();
  const requireBearer = (req: Request, res: Response, next: NextFunction): void => {
    const h = req.headers.authorization ?? '';
    if (!authenticated || (h.length <= MAX_AUTH_HEADER && BEARER_JWT.test(h))) {
      next();
      return;
    }
    log.warn('Teams request refused: not authenticated', {
      reason: h ? 'malformed Authorization header' : 'no Authorization header',
      ip: req.ip,
    });
    // Discard the body without buffering or parsing it; the connection stays usable.
    req.resume();
    refuse(res, 401, 'unauthorized');
  };
  const process = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const body = req.body as unknown;
    if (
      !body ||
      typeof body !== 'object' ||
      Array.isArray(body) ||
      typeof (body as { type?: unknown }).type !== 'string' ||
      !(body as { type: string }).type
    ) {
      log.warn('Teams request refused: not an activity', { ip: req.ip });
      return refuse(res, 400, 'bad request');
    }
    try {
      const invoke = await adapter.handle(req.headers.authorization ?? '', body as Activity, logic);
      if (invoke?.status === 501 && invoke.body === undefined) {
        // botbuilder's answer to an invoke no handler took (no name, or one we do not
        // implement): the request asked for something this bot does not do, a 4xx.
        log.info('Teams invoke not handled', { name: String((body as { name?: unknown }).name ?? '').slice(0, 60) });
        return refuse(res, 400, 'bad request');
      }
      res.status(invoke?.status ?? 200);
      if (invoke?.body !== undefined) res.send(invoke.body);
      else res.end();
    } catch (e) {
      // The authentication guard already logged why (never the token).
      if (e instanceof AuthenticationError) return refuse(res, 401, 'unauthorized');
      next(e);
    }
  };
  router.post('/api/messages', requireBearer, express.json({ limit: MAX_ACTIVITY_BYTES }), process);
  return router;
}
