import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { randomBytes } from 'node:crypto';
import { hashToken } from '../../engine/links.ts';
import { renderErrorPage, renderRateLimitedPage, renderUnavailablePage } from '../../cards/form-page.ts';
import { RateLimiter, type Limit, type LimitCheck } from './rate-limit.ts';
import type { RateCounters } from '../store/rate-counters.ts';
import { setFormHeaders } from './headers.ts';
import type { FormService } from './form-service.ts';
import { MICROSOFT_CALLBACK_PATH } from './admin-form-service.ts';
import type { Logger } from '../log.ts';

/** Rate limits of the form (per client address and per link). */
export interface FormLimits {
  /** Every request from one client address. Default 60 per 10 min. */
  perClient: Limit;
  /** Posts from one client address. Default 20 per 10 min. */
  postsPerClient: Limit;
  /** Every request on one link. Default 40 per 10 min. */
  perLink: Limit;
  /** Posts on one link. Default 10 per 10 min. */
  postsPerLink: Limit;
}

/** Default limits: plenty for a person, a wall for a script. */
export const DEFAULT_FORM_LIMITS: FormLimits = {
  perClient: { max: 60, windowMs: 10 * 60_000 },
  postsPerClient: { max: 20, windowMs: 10 * 60_000 },
  perLink: { max: 40, windowMs: 10 * 60_000 },
  postsPerLink: { max: 10, windowMs: 10 * 60_000 },
};

/**
 * The form's rate limits as a middleware: the client address, then the link (keyed by its
 * hash, never the token; for the sign-in callback its state); posts count twice. The
 * counters are in the database: every process serving the form counts against one limit.
 */
function rateLimit(
  limits: FormLimits,
  limiter: RateLimiter,
  log: Logger,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const client = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    // The link, or for the sign-in callback its state (both hashed: never a raw token in a counter's key).
    const link = `l:${hashToken(String(req.params.token ?? req.query.state ?? ''))}`;
    const post = req.method === 'POST';
    const checks: LimitCheck[] = [
      { name: 'client', limit: limits.perClient, key: client },
      { name: 'link', limit: limits.perLink, key: link },
      ...(post
        ? [
            { name: 'client-post', limit: limits.postsPerClient, key: client },
            { name: 'link-post', limit: limits.postsPerLink, key: link },
          ]
        : []),
    ];
    limiter.hit(checks).then((r) => {
      if (r.ok) return next();
      const secs = Math.ceil(r.retryAfterMs / 1000);
      log.warn('credential form: rate limited', { client, method: req.method, limit: r.name });
      res
        .status(429)
        .set('Retry-After', String(secs))
        .type('html')
        .send(renderRateLimitedPage(Math.ceil(secs / 60)));
    }, next);
  };
}

/** Errors: a reference for the user and the log; the message only, never the request URL or body. */
function formErrors(log: Logger): (err: unknown, req: Request, res: Response, next: NextFunction) => void {
  return (err, _req, res, _next) => {
    const status = (err as { status?: number; type?: string })?.status;
    if (status && status >= 400 && status < 500) {
      res
        .status(status === 413 ? 413 : 400)
        .type('html')
        .send(renderErrorPage('bad-request'));
      return;
    }
    const ref = randomBytes(4).toString('hex');
    log.error('credential form failed', { ref, error: err instanceof Error ? err.message : String(err) });
    res.status(500).type('html').send(renderErrorPage(ref));
  };
}

/**
 * `GET|POST /c/:token`, the credential form. Its own body parser (urlencoded, small), its
 * own security headers, rate limits per client and per link (counted in `counters`), and an error handler that
 * logs a reference (never the URL: it holds the token). A link of the wrong shape gets the
 * page of a link that cannot be used, with the install's `organisation` name and contact.
 */
export function createFormRouter(
  service: FormService,
  log: Logger,
  opts: {
    publicUrl: string;
    counters: RateCounters;
    now?: () => number;
    limits?: Partial<FormLimits>;
    organisation?: { name?: string; support?: string };
  },
): Router {
  const limit = rateLimit({ ...DEFAULT_FORM_LIMITS, ...opts.limits }, new RateLimiter(opts.counters, opts.now), log);
  const router = express.Router();

  // Headers first, so every answer (errors and limits included) carries them.
  router.use('/c', (req, res, next) => {
    setFormHeaders(req, res, opts.publicUrl);
    next();
  });
  routeCredentialForm(router, service, limit);
  routeMicrosoftSignIn(router, service, limit, opts.publicUrl);

  // Anything else under /c/ looks like an unusable link. A link of the wrong shape belongs to
  // no project: the install's organisation and contact.
  router.all('/c/*rest', (_req, res) => {
    res.status(404).type('html').send(renderUnavailablePage(opts.organisation));
  });
  router.all('/c', (_req, res) => {
    res.status(404).type('html').send(renderUnavailablePage(opts.organisation));
  });

  router.use(['/c', MICROSOFT_CALLBACK_PATH], formErrors(log));
  return router;
}

/** A rate limit's middleware, as `rateLimit` makes it. */
type RateLimitHandler = ReturnType<typeof rateLimit>;

/** `GET /c/:token` shows the form, `POST /c/:token` submits it. */
function routeCredentialForm(router: Router, service: FormService, limit: RateLimitHandler): void {
  router.get('/c/:token', limit, async (req, res, next) => {
    try {
      const a = await service.show(String(req.params.token), req.query.signin);
      res.status(a.status).type('html').send(a.html);
    } catch (e) {
      next(e);
    }
  });

  router.post(
    '/c/:token',
    limit,
    // 48 kB: room for a certificate and its private key pasted on the admin form.
    express.urlencoded({ extended: false, limit: '48kb', parameterLimit: 20 }),
    async (req, res, next) => {
      try {
        const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
        const a = await service.submit(String(req.params.token), body);
        res.status(a.status).type('html').send(a.html);
      } catch (e) {
        next(e);
      }
    },
  );
}

/**
 * "Sign in with Microsoft": a plain link (the page runs no script) that sends the browser to
 * Microsoft, and the callback Microsoft sends it back to (PUBLIC_URL/oauth/microsoft/callback),
 * with the form's security headers.
 */
function routeMicrosoftSignIn(router: Router, service: FormService, limit: RateLimitHandler, publicUrl: string): void {
  const answer = (res: Response, a: Awaited<ReturnType<FormService['microsoftCallback']>>) => {
    if ('redirect' in a) res.redirect(303, a.redirect);
    else res.status(a.status).type('html').send(a.html);
  };
  router.get('/c/:token/microsoft/:side', limit, async (req, res, next) => {
    try {
      answer(res, await service.beginMicrosoft(String(req.params.token), String(req.params.side)));
    } catch (e) {
      next(e);
    }
  });
  router.use(MICROSOFT_CALLBACK_PATH, (req, res, next) => {
    setFormHeaders(req, res, publicUrl);
    next();
  });
  router.get(MICROSOFT_CALLBACK_PATH, limit, async (req, res, next) => {
    try {
      answer(res, await service.microsoftCallback(req.query as Record<string, unknown>));
    } catch (e) {
      next(e);
    }
  });
}
