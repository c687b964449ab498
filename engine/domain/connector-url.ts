import { UserError } from '../errors.ts';
import { parseM365Url } from '../connectors/m365/parse-m365-url.ts';
import { M365_IMAP_HOST, M365_IMAP_PORT } from '../connectors/m365/types.ts';

/** A parsed connector URL: `imap://host:port`, `imaps://host:port` or `m365://TENANT_ID[?imap=HOST:PORT]`. */
export type ConnectorUrl =
  | { kind: 'imap'; secure: boolean; host: string; port: number; url: string }
  | { kind: 'm365'; tenantId: string; imapHost: string; imapPort: number; url: string };

/**
 * Parses and checks a connector URL; the error says what a valid one looks like, and is blamed on the field named
 * `side`.
 */
export function parseConnectorUrl(raw: string, side: string): ConnectorUrl {
  const usage =
    `Use imap://host:port (STARTTLS when offered), imaps://host:port, or m365://TENANT_ID (Exchange ` +
    `Online; m365://TENANT_ID?imap=HOST:PORT for another IMAP host, e.g. GCC High or 21Vianet).`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UserError('CONNECTOR_URL', `The ${side} "${raw}" is not a URL. ${usage}`, undefined, side);
  }
  if (u.username || u.password)
    throw new UserError(
      'CONNECTOR_URL_CREDENTIALS',
      `The ${side} URL must not contain credentials: they are entered only on MailFerry's secure form.`,
      undefined,
      side,
    );
  if (u.protocol === 'imap:' || u.protocol === 'imaps:') {
    const secure = u.protocol === 'imaps:';
    if (!u.hostname) throw new UserError('CONNECTOR_URL', `The ${side} URL has no host. ${usage}`, undefined, side);
    const port = u.port ? Number(u.port) : secure ? 993 : 143;
    return {
      kind: 'imap',
      secure,
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port,
      url: `${u.protocol}//${u.host}${u.port ? '' : `:${port}`}`,
    };
  }
  if (u.protocol === 'm365:') {
    let m: ReturnType<typeof parseM365Url>;
    try {
      m = parseM365Url(raw);
    } catch (e) {
      throw new UserError('CONNECTOR_URL', `The ${side} URL: ${(e as Error).message}. ${usage}`, undefined, side);
    }
    const custom = m.imapHost !== M365_IMAP_HOST || m.imapPort !== M365_IMAP_PORT;
    const host = m.imapHost.includes(':') ? `[${m.imapHost}]` : m.imapHost;
    return {
      kind: 'm365',
      tenantId: m.tenantId,
      imapHost: m.imapHost,
      imapPort: m.imapPort,
      url: `m365://${m.tenantId}${custom ? `?imap=${host}:${m.imapPort}` : ''}`,
    };
  }
  throw new UserError(
    'CONNECTOR_URL',
    `The ${side} "${raw}" uses an unsupported scheme "${u.protocol.replace(':', '')}". ${usage}`,
    undefined,
    side,
  );
}
