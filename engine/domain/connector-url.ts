import { UserError } from '../errors.ts';

/** A parsed connector URL: `imap://host:port`, `imaps://host:port` or `m365://TENANT_ID`. */
export type ConnectorUrl =
  | { kind: 'imap'; secure: boolean; host: string; port: number; url: string }
  | { kind: 'm365'; tenantId: string; url: string };

/** Parses and checks a connector URL; the error says what a valid one looks like. */
export function parseConnectorUrl(raw: string, side: string): ConnectorUrl {
  const usage = `Use imap://host:port (STARTTLS when offered), imaps://host:port, or m365://TENANT_ID.`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UserError('CONNECTOR_URL', `The ${side} "${raw}" is not a URL. ${usage}`);
  }
  if (u.username || u.password)
    throw new UserError('CONNECTOR_URL_CREDENTIALS', `The ${side} URL must not contain credentials: they are entered only on MailFerry's secure form.`);
  if (u.protocol === 'imap:' || u.protocol === 'imaps:') {
    const secure = u.protocol === 'imaps:';
    if (!u.hostname) throw new UserError('CONNECTOR_URL', `The ${side} URL has no host. ${usage}`);
    const port = u.port ? Number(u.port) : secure ? 993 : 143;
    return { kind: 'imap', secure, host: u.hostname.replace(/^\[|\]$/g, ''), port, url: `${u.protocol}//${u.host}${u.port ? '' : `:${port}`}` };
  }
  if (u.protocol === 'm365:') {
    const tenantId = u.hostname || u.pathname.replace(/^\/+/, '');
    if (!tenantId) throw new UserError('CONNECTOR_URL', `The ${side} URL has no tenant id. ${usage}`);
    return { kind: 'm365', tenantId, url: `m365://${tenantId}` };
  }
  throw new UserError('CONNECTOR_URL', `The ${side} "${raw}" uses an unsupported scheme "${u.protocol.replace(':', '')}". ${usage}`);
}
