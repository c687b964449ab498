import type { ImapFlow, ImapFlowOptions } from 'imapflow';
import type { ConnectorEndpoint } from '../types.ts';
import { rootCertificates } from 'node:tls';
import { classifyImapError } from './classify-error.ts';
import { bridgeOf } from './imapflow-bridge.ts';
import { parseImapUrl } from './parse-imap-url.ts';
import { traced, tracing } from '../../trace.ts';

/**
 * Builds the imapflow options for an endpoint. imap:// connects in clear and upgrades with
 * STARTTLS whenever the server offers it (RFC 3501 §6.2.1; imapflow does this when
 * `secure` is false); imaps:// is implicit TLS (RFC 8314). Logging is off: imapflow's
 * debug log would carry the LOGIN/AUTHENTICATE lines, and no secret may reach a log.
 */
export function imapOptions(endpoint: ConnectorEndpoint, accessToken?: string): ImapFlowOptions {
  const addr = parseImapUrl(endpoint.url);
  const o = endpoint.options ?? {};
  let user = endpoint.login;
  let authzid: string | undefined;
  if (endpoint.master) {
    if (endpoint.master.style === 'authzid') {
      // SASL PLAIN carries authzid (the mailbox) + authcid (the admin) (RFC 4616 §2).
      authzid = endpoint.login;
      user = endpoint.master.user;
    } else {
      user = `${endpoint.login}${endpoint.master.separator ?? '*'}${endpoint.master.user}`;
    }
  }
  const secret = endpoint.secret;
  const token = accessToken ?? ('accessToken' in secret ? secret.accessToken : undefined);
  if (token === undefined && !('password' in secret))
    throw new Error('an OAuth endpoint needs its access token (connectImap fetches it)');
  const auth: ImapFlowOptions['auth'] =
    token !== undefined
      ? { user, accessToken: token }
      : {
          user,
          pass: (secret as { password: string }).password,
          ...(authzid ? { authzid, loginMethod: 'AUTH=PLAIN' } : {}),
        };
  return {
    host: addr.host,
    port: addr.port,
    secure: addr.secure,
    auth,
    logger: false,
    // IDLE between our commands would only add round trips; the engine keeps connections busy.
    disableAutoIdle: true,
    // COMPRESS=DEFLATE costs CPU on loopback/LAN and mail is mostly incompressible attachments.
    disableCompression: true,
    connectionTimeout: o.connectTimeoutMs ?? 30_000,
    greetingTimeout: o.greetingTimeoutMs ?? 15_000,
    socketTimeout: o.socketTimeoutMs ?? 5 * 60_000,
    tls: {
      rejectUnauthorized: o.tls?.rejectUnauthorized ?? true,
      ...(o.tls?.servername ? { servername: o.tls.servername } : {}),
      ...(o.tls?.ca ? { ca: [...rootCertificates, o.tls.ca] } : {}),
    },
    clientInfo: { name: 'MailFerry' },
  };
}

/**
 * Opens and authenticates an IMAP connection to the endpoint; the caller logs it out.
 * With a token source (`{ oauth }`), each connection takes a token from it; when the
 * server refuses that token (it expired or was revoked while the source still held it),
 * the source is asked for a new one and the login tried once more: a refusal after
 * renewal is a real one. A token that cannot be had fails with the source's error
 * (Microsoft's words; {@link classifyImapError} knows it).
 */
export async function connectImap(endpoint: ConnectorEndpoint): Promise<ImapFlow> {
  if (!('oauth' in endpoint.secret)) return open(imapOptions(endpoint));
  const source = endpoint.secret.oauth;
  const first = await source.token();
  try {
    return await open(imapOptions(endpoint, first.accessToken));
  } catch (err) {
    if (classifyImapError(err) !== 'refused') throw err;
  }
  const renewed = await source.token({ forceRefresh: true });
  return open(imapOptions(endpoint, renewed.accessToken));
}

// imapflow (with its MIME and charset tables) costs about half a second of CPU and 20 MB to
// load: an idle server that opens no IMAP connection never loads it.
let imapflow: Promise<typeof import('imapflow')> | undefined;

async function open(options: ImapFlowOptions): Promise<ImapFlow> {
  const { ImapFlow } = await (imapflow ??= import('imapflow'));
  const client = new ImapFlow(options);
  // An 'error' event without a listener would crash the process (Node EventEmitter);
  // the failure also rejects the pending command, which is where we handle it.
  client.on('error', () => undefined);
  if (tracing) traceCommands(client, `${options.host}:${options.port}`);
  try {
    await traced('connect', `${options.host}:${options.port}`, client.connect());
  } catch (err) {
    client.close();
    throw err;
  }
  // Checks imapflow's private shape once, now, so a mismatch is logged at connect (imapflow-bridge.ts).
  bridgeOf(client);
  return client;
}

/**
 * Times every command of the connection in the trace (MAILFERRY_TRACE; engine/trace.ts): the
 * command's name only, from the moment it is queued to its tagged reply.
 */
function traceCommands(client: ImapFlow, server: string): void {
  const c = client as unknown as { exec: (command: string, ...rest: unknown[]) => Promise<unknown>; id: string };
  const exec = c.exec.bind(client);
  c.exec = (command, ...rest) => traced(`imap ${command}`, `${server}#${c.id}`, exec(command, ...rest));
}

/** Logs out politely, or drops the socket when the connection is already broken. Never throws. */
export async function closeImap(client: ImapFlow | null | undefined): Promise<void> {
  if (!client) return;
  try {
    if (client.usable) {
      await Promise.race([client.logout(), new Promise((r) => setTimeout(r, 2000))]);
    }
  } catch {
    /* ignore */
  }
  try {
    client.close();
  } catch {
    /* ignore */
  }
}
