import { M365_IMAP_HOST, M365_IMAP_PORT } from './types.ts';

/** A parsed `m365://TENANT_ID[?imap=HOST:PORT]` connector URL. */
export interface M365Address {
  tenantId: string;
  /**
   * IMAP host: outlook.office365.com unless `?imap=` names another (GCC High, 21Vianet). Always implicit TLS (RFC
   * 8314).
   */
  imapHost: string;
  imapPort: number;
}

/** Parses an m365:// URL; throws a coded error (`CONNECTOR_URL`) when it is not one. */
export function parseM365Url(raw: string): M365Address {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw Object.assign(new Error('connector URL is not a URL'), { code: 'CONNECTOR_URL' });
  }
  if (u.protocol !== 'm365:')
    throw Object.assign(new Error(`not an m365:// URL: ${u.protocol}`), { code: 'CONNECTOR_URL' });
  const tenantId = decodeURIComponent(u.hostname || u.pathname.replace(/^\/+/, ''));
  if (!tenantId) throw Object.assign(new Error('m365:// URL has no tenant id'), { code: 'CONNECTOR_URL' });
  const imap = u.searchParams.get('imap');
  if (!imap) return { tenantId, imapHost: M365_IMAP_HOST, imapPort: M365_IMAP_PORT };
  const [, host, port] = /^(\[[^\]]+\]|[^:\s/]+)(?::(\d{1,5}))?$/.exec(imap) ?? [];
  if (!host || (port && (Number(port) < 1 || Number(port) > 65535)))
    throw Object.assign(new Error(`m365:// URL has a bad imap=HOST:PORT "${imap}"`), { code: 'CONNECTOR_URL' });
  return { tenantId, imapHost: host.replace(/^\[|\]$/g, ''), imapPort: port ? Number(port) : M365_IMAP_PORT };
}
