import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Anti-CSRF token of the credential form: an HMAC of the link id under a server secret.
 * Only a page we rendered for that link carries it, and it is useless for any other link.
 * (The link token itself already gates the form; this stops a third-party page from
 * posting to a link it somehow learned without having loaded our form.)
 */
export function csrfToken(secret: Buffer, linkId: string): string {
  return createHmac('sha256', secret).update(`mailferry:form-csrf:v1:${linkId}`).digest('base64url');
}

/** Constant-time check of a posted anti-CSRF token. */
export function checkCsrf(secret: Buffer, linkId: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length > 100) return false;
  const want = Buffer.from(csrfToken(secret, linkId));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The form's secret, derived from the vault key (stable across restarts and workers, never the key itself). */
export function deriveFormSecret(vault: { derive(label: string): Buffer }): Buffer {
  return vault.derive('mailferry:form-secret:v1');
}
