import type { ConnectorEndpoint, ConnectorSecret, ConnectorSide, VerifyResult } from '../types.ts';
import { classifyImapError, errorDetail } from './classify-error.ts';
import { closeImap, connectImap } from './open-imap.ts';

/**
 * Checks a login against an IMAP server: connects (STARTTLS when offered), authenticates
 * and logs out. Tells apart credentials refused, server unreachable / TLS failure, a
 * server that asks us to slow down (throttled), and anything else. `side` only labels the detail text. Never throws;
 * never logs the secret.
 */
export async function verifyCredentials(
  connectorUrl: string,
  login: string,
  secret: ConnectorSecret,
  side: ConnectorSide,
  extra: Pick<ConnectorEndpoint, 'master' | 'options'> = {},
): Promise<VerifyResult> {
  let client: Awaited<ReturnType<typeof connectImap>> | undefined;
  try {
    client = await connectImap({ url: connectorUrl, login, secret, ...extra });
    return { ok: true };
  } catch (err) {
    const kind = classifyImapError(err);
    // Throttled (Office 365 "Request is throttled"): no verdict on the credentials; ask again later.
    const k = kind === 'refused' || kind === 'unreachable' || kind === 'throttled' ? kind : 'error';
    const code = (err as { code?: string })?.code;
    const detail =
      k === 'refused' ? `${side} server refused the credentials: ${errorDetail(err)}` : `${side}: ${errorDetail(err)}`;
    return { ok: false, kind: code === 'CONNECTOR_URL' ? 'error' : k, detail };
  } finally {
    await closeImap(client);
  }
}
