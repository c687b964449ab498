import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { FORM_PAGE_CSS } from '../../cards/form-page.ts';

const STYLE_HASH = `'sha256-${createHash('sha256').update(FORM_PAGE_CSS, 'utf8').digest('base64')}'`;

/**
 * The credential form's Content-Security-Policy: nothing loads, no script runs, the one
 * style sheet is allowed by hash, the form posts only to us, nobody may frame it.
 */
export const FORM_CSP = [
  "default-src 'none'",
  `style-src ${STYLE_HASH}`,
  "script-src 'none'",
  "img-src 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/**
 * Sets the security headers of every form response. HSTS only when the request came over
 * HTTPS (directly or through a trusted proxy) or the public URL is HTTPS: sending it over
 * plain HTTP means nothing (RFC 6797 §7.2).
 */
export function setFormHeaders(req: Request, res: Response, publicUrl: string): void {
  res.set({
    'Content-Security-Policy': FORM_CSP,
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    'X-Robots-Tag': 'noindex, nofollow',
  });
  if (req.secure || publicUrl.startsWith('https://'))
    res.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
}
