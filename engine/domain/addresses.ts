import { UserError } from '../errors.ts';
import { refuseInvisible } from './invisible.ts';

// A pragmatic address check (RFC 5321 local part without quoted strings, a dotted
// domain of LDH labels, or a punycode/IDN label). Migration lists come from HR exports;
// what matters is catching typos, not accepting every RFC 5322 oddity.
// Built from three whole parts (each a regular expression of its own): the local part and the @, the labels before
// the last dot, the last label.
const ADDRESS = new RegExp(
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@/u.source +
    /(?:[A-Za-z0-9\u00a1-\uffff](?:[A-Za-z0-9\u00a1-\uffff-]{0,61}[A-Za-z0-9\u00a1-\uffff])?\.)+/u.source +
    /[A-Za-z\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff-]{0,62}$/u.source,
  'u',
);

/** Google consumer domains: Google's security policy no longer allows password IMAP access for free accounts. */
export const GOOGLE_CONSUMER_DOMAINS = ['gmail.com', 'googlemail.com'];

/** True when `s` looks like a mail address we can migrate. */
export function isAddress(s: string): boolean {
  return (
    s.length <= 254 &&
    ADDRESS.test(s) &&
    !s.includes('..') &&
    !s.startsWith('.') &&
    !s.slice(0, s.indexOf('@')).endsWith('.')
  );
}

/**
 * Validates and normalises an address (domain lower-cased; local part kept, since
 * some servers treat it case-sensitively). Throws a UserError an admin understands.
 */
export function normaliseAddress(raw: string, what = 'address'): string {
  const s = raw
    .trim()
    .replace(/^<(.*)>$/, '$1')
    .replace(/^mailto:/i, '');
  if (!s) throw new UserError('ADDRESS_MISSING', `The ${what} is missing.`);
  refuseInvisible(s, what);
  if (!isAddress(s))
    throw new UserError(
      'ADDRESS_MALFORMED',
      `"${raw}" is not a valid ${what}: expected something like alice@old.example.`,
    );
  const at = s.lastIndexOf('@');
  const domain = s.slice(at + 1).toLowerCase();
  if (GOOGLE_CONSUMER_DOMAINS.includes(domain)) {
    throw new UserError(
      'GOOGLE_CONSUMER',
      `${s} is a Google consumer account. Due to Google's security policy, free ` +
        `Google accounts (gmail.com, googlemail.com) cannot be migrated with a ` +
        `password; ask the user to export their mail with Google Takeout instead.`,
    );
  }
  return `${s.slice(0, at)}@${domain}`;
}
