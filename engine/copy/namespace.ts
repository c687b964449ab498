import type { ImapFlow } from 'imapflow';

/**
 * The personal namespace of an account (RFC 2342): Courier, Cyrus, older Maildir++
 * Dovecot set-ups and many hosting panels put every folder but INBOX under the prefix
 * `INBOX.` (`INBOX.Sent`, `INBOX.Projects.Alpha`); most servers have an empty prefix.
 */
export interface PersonalNamespace {
  /** As the server announced it, ending with the delimiter (`INBOX.`), or ''. */
  prefix: string;
  /** Hierarchy delimiter of the namespace; null for a flat one. */
  delimiter: string | null;
}

/**
 * The personal namespace of a connected client. imapflow sends NAMESPACE (or, without the
 * capability, `LIST "" ""`) when it connects and keeps the first personal namespace.
 */
export function personalNamespace(client: Pick<ImapFlow, 'namespace'>): PersonalNamespace {
  const ns = client.namespace;
  return { prefix: ns?.prefix ?? '', delimiter: ns?.delimiter ?? null };
}

const isInbox = (s: string | undefined) => /^inbox$/i.test(s ?? '');

/** The prefix as hierarchy levels: `INBOX.` → ['INBOX'], '' → []. A flat namespace has none. */
export function prefixSegments(ns: PersonalNamespace | undefined): string[] {
  if (!ns?.prefix || !ns.delimiter) return [];
  const p = ns.prefix.endsWith(ns.delimiter) ? ns.prefix.slice(0, -ns.delimiter.length) : ns.prefix;
  return p ? p.split(ns.delimiter) : [];
}

function startsWith(segments: string[], prefix: string[]): boolean {
  // INBOX is case-insensitive (RFC 3501 §5.1); every other level is compared exactly.
  return (
    prefix.length > 0 &&
    segments.length >= prefix.length &&
    prefix.every((p, i) => p === segments[i] || (i === 0 && isInbox(p) && isInbox(segments[0])))
  );
}

/**
 * A folder's levels without the namespace prefix: ['INBOX', 'Projects', 'Alpha'] →
 * ['Projects', 'Alpha'] under `INBOX.`. INBOX itself, folders outside the prefix, and a
 * folder whose stripped name would be INBOX (`INBOX.INBOX`) keep all their levels.
 */
export function withoutPrefix(segments: string[], prefix: string[]): string[] {
  if (!startsWith(segments, prefix) || segments.length === prefix.length) return segments;
  const rest = segments.slice(prefix.length);
  return rest.length === 1 && isInbox(rest[0]) ? segments : rest;
}

/**
 * A logical (prefix-free) name's levels inside the namespace: ['Projects', 'Alpha'] →
 * ['INBOX', 'Projects', 'Alpha'] under `INBOX.`. INBOX stays INBOX; a name already inside
 * the prefix (with `INBOX.` as prefix, "INBOX/Old", a subfolder of the inbox, is already
 * in it) is not prefixed twice.
 */
export function withPrefix(segments: string[], prefix: string[]): string[] {
  if (
    !prefix.length ||
    !segments.length ||
    (segments.length === 1 && isInbox(segments[0])) ||
    startsWith(segments, prefix)
  )
    return segments;
  return [...prefix, ...segments];
}
