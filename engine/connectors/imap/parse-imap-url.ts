import { parseM365Url } from '../m365/parse-m365-url.ts';

/** A parsed `imap://` or `imaps://` connector URL. */
export interface ImapAddress {
  host: string;
  port: number;
  /** true for imaps:// (implicit TLS, RFC 8314); false for imap:// (STARTTLS when offered, RFC 3501 §6.2.1). */
  secure: boolean;
}

/**
 * Parses `imap://host[:port]` (default 143), `imaps://host[:port]` (default 993) or
 * `m365://TENANT_ID[?imap=HOST:PORT]` (Exchange Online's IMAP, outlook.office365.com:993,
 * always implicit TLS); throws a coded error otherwise.
 */
export function parseImapUrl(raw: string): ImapAddress {
  if (/^m365:/i.test(raw)) {
    const m = parseM365Url(raw);
    return { host: m.imapHost, port: m.imapPort, secure: true };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw Object.assign(new Error('connector URL is not a URL'), { code: 'CONNECTOR_URL' });
  }
  if (u.protocol !== 'imap:' && u.protocol !== 'imaps:') {
    throw Object.assign(new Error(`unsupported connector scheme ${u.protocol}`), { code: 'CONNECTOR_URL' });
  }
  const secure = u.protocol === 'imaps:';
  if (!u.hostname) throw Object.assign(new Error('connector URL has no host'), { code: 'CONNECTOR_URL' });
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : secure ? 993 : 143, secure };
}
