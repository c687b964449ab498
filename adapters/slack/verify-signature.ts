import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** Largest request body accepted (Slack's payloads are small; a view with a long paste stays under this). */
export const MAX_BODY_BYTES = 1_000_000;
/** Slack's window: a request more than five minutes from now, either way, is refused. */
export const MAX_SKEW_SECONDS = 300;

/** Why a request was refused (logged, never shown to the caller). */
export type SignatureVerdict =
  | { ok: true }
  | { ok: false; code: 'MISSING_HEADERS' | 'BAD_TIMESTAMP' | 'STALE' | 'FUTURE' | 'BAD_SIGNATURE' };

/**
 * Checks a Slack request signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}`
 * with the signing secret (Slack docs, "Verifying requests from Slack"). Stricter than
 * Bolt's own check: the timestamp must be within five minutes of `now` in *both*
 * directions, so a request signed for the future cannot be replayed later.
 */
export function verifySlackSignature(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  rawBody: string | Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureVerdict {
  if (!timestamp || !signature) return { ok: false, code: 'MISSING_HEADERS' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, code: 'BAD_TIMESTAMP' };
  const ts = Number(timestamp);
  if (nowSeconds - ts > MAX_SKEW_SECONDS) return { ok: false, code: 'STALE' };
  if (ts - nowSeconds > MAX_SKEW_SECONDS) return { ok: false, code: 'FUTURE' };
  const expected = 'v0=' + createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex');
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  // Constant-time compare; lengths differ only for malformed headers.
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, code: 'BAD_SIGNATURE' };
  return { ok: true };
}

/**
 * Express middleware in front of Bolt's receiver: reads the raw body once, verifies it,
 * and hands it to Bolt as `req.rawBody` (Bolt then parses without a second read). A
 * refused request gets a bare 401; the reason goes to the log only.
 */
export function verifySlackRequest(
  secret: string,
  onRefused: (code: string, req: Request) => void,
  now: () => number = () => Math.floor(Date.now() / 1000),
) {
  return async function verifySlack(req: Request, res: Response, next: NextFunction): Promise<void> {
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_BODY_BYTES);
    } catch (e) {
      const tooLarge = e instanceof Error && e.message === 'TOO_LARGE';
      onRefused(tooLarge ? 'TOO_LARGE' : 'UNREADABLE', req);
      res.status(tooLarge ? 413 : 400).end();
      return;
    }
    const verdict = verifySlackSignature(
      secret,
      req.header('x-slack-request-timestamp'),
      req.header('x-slack-signature'),
      raw,
      now(),
    );
    if (!verdict.ok) {
      onRefused(verdict.code, req);
      res.status(401).end();
      return;
    }
    (req as Request & { rawBody?: Buffer }).rawBody = raw;
    next();
  };
}

/** Reads a request body up to `limit` bytes (no body parser may run before the signature check). */
function readBody(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new Error('TOO_LARGE'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
