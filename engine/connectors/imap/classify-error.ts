import type { ConnectorFailureReason, ConnectorSide } from '../types.ts';

/** How an IMAP failure is classified. */
export type ImapErrorKind = 'refused' | 'unreachable' | 'throttled' | 'quota' | 'error';

/** Network, socket and TLS failures: the server could not be reached or the link broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'ETIMEOUT',
  'GREETING_TIMEOUT',
  'UPGRADE_TIMEOUT',
  'CONNECT_TIMEOUT',
  'NoConnection',
  'EConnectionClosed',
  'ClosedAfterConnectText',
  'ClosedAfterConnectTLS',
  'ProxyError',
  'STARTTLS_INJECTION',
]);

/** Short, secret-free text of an error: the server's response text, else the message. */
export function errorDetail(err: unknown): string {
  const e = err as
    | { responseText?: string; response?: unknown; message?: string; code?: string; reason?: string }
    | undefined;
  // imapflow's failed session start carries the server's words in `response` (a string).
  const text =
    e?.responseText || (typeof e?.response === 'string' ? e.response : '') || e?.reason || e?.message || String(err);
  // A token failure's text is already Microsoft's own (AADSTS code first).
  return (e?.code && e.code !== 'M365_AUTH' && !text.includes(e.code) ? `${e.code}: ${text}` : text).slice(0, 500);
}

/**
 * A string property of a thrown value, or undefined: imapflow's errors carry `code`,
 * `responseStatus`, `responseText` and `serverResponseCode`, the copy engine's its `side`.
 */
export function errorField(err: unknown, name: string): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const v: unknown = Reflect.get(err, name);
  return typeof v === 'string' ? v : undefined;
}

/** The IMAP response code of a tagged NO/BAD (`[OVERQUOTA]` → `OVERQUOTA`, RFC 5530), if any. */
export function responseCode(err: unknown): string | undefined {
  const e = err as { serverResponseCode?: string; response?: { attributes?: { section?: { value?: unknown }[] }[] } };
  if (e?.serverResponseCode) return String(e.serverResponseCode).toUpperCase();
  const v = e?.response?.attributes?.[0]?.section?.[0]?.value;
  return typeof v === 'string' ? v.toUpperCase() : undefined;
}

/** Exchange Online's answer to an app without permission on the mailbox it logged in to. */
const NOT_CONNECTED = /User is authenticated but not connected/i;

/**
 * Office 365's throttling reply ("Request is throttled. Suggested Backoff Time: 1500 milliseconds"), as imapflow
 * matches it.
 */
const THROTTLED_TEXT = /Request is throttled.*Backoff Time[:=\s]+(\d+)/i;

/**
 * The backoff (ms) a throttled command's server suggested: imapflow's `throttleReset`
 * (ETHROTTLE), else read from the reply text (commands the engine sends around imapflow's
 * response parser carry only the text). Undefined when the error is no throttle.
 */
export function throttleHintMs(err: unknown): number | undefined {
  const e = err as { code?: string; throttleReset?: number; responseText?: string } | undefined;
  if (e?.code === 'ETHROTTLE' && typeof e.throttleReset === 'number') return e.throttleReset;
  const m = THROTTLED_TEXT.exec(e?.responseText ?? '');
  return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
}

/**
 * Classifies an imapflow error: authentication refused, unreachable (network/TLS/closed
 * connection), throttled (imapflow's ETHROTTLE for Office 365 "Request is throttled"),
 * over quota (RFC 5530 `OVERQUOTA`, or the "Quota exceeded" text of servers without
 * response codes), or anything else.
 */
export function classifyImapError(err: unknown): ImapErrorKind {
  const e = err as
    | {
        code?: string;
        kind?: string;
        authenticationFailed?: boolean;
        tlsFailed?: boolean;
        responseText?: string;
        message?: string;
      }
    | undefined;
  if (!e) return 'error';
  // No token to log in with (Microsoft's identity platform said why): a missing consent is a refusal of the side too.
  if (e.code === 'M365_AUTH')
    return e.kind === 'consent' || e.kind === 'refused'
      ? 'refused'
      : e.kind === 'unreachable' || e.kind === 'throttled'
        ? e.kind
        : 'error';
  // Exchange Online takes an app's token but refuses every command on a mailbox the app has
  // no permission for (Add-MailboxPermission … FullAccess, or an RBAC for Applications scope).
  if (NOT_CONNECTED.test(errorDetail(err))) return 'refused';
  // Before the login checks: imapflow marks any failed AUTHENTICATE `authenticationFailed`,
  // a throttled one too, and a throttled login is no verdict on the credentials.
  if (e.code === 'ETHROTTLE' || throttleHintMs(err) !== undefined) return 'throttled';
  if (e.authenticationFailed) return 'refused';
  const code = responseCode(err);
  if (code === 'AUTHENTICATIONFAILED' || code === 'AUTHORIZATIONFAILED') return 'refused';
  if (code === 'OVERQUOTA' || /quota exceeded|over quota|mailbox (is )?full/i.test(e.responseText ?? ''))
    return 'quota';
  if (e.tlsFailed) return 'unreachable';
  if (
    e.code &&
    (NETWORK_CODES.has(e.code) || /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(e.code))
  )
    return 'unreachable';
  if (/socket|connection (closed|reset)|unexpected close/i.test(e.message ?? '') && !e.responseText)
    return 'unreachable';
  return 'error';
}

/**
 * Maps an error kind and the side it came from to the domain's failure reason: for a
 * credential check (verifyCredentials, no quota there) and for a pass (run-pass.ts). An
 * error from neither server (no side) is never a credential or reachability failure.
 */
export function failureReasonFor(kind: Exclude<ImapErrorKind, 'quota'>, side: ConnectorSide): ConnectorFailureReason;
export function failureReasonFor(
  kind: ImapErrorKind,
  side: ConnectorSide | undefined,
): ConnectorFailureReason | 'DestinationQuota';
export function failureReasonFor(
  kind: ImapErrorKind,
  side: ConnectorSide | undefined,
): ConnectorFailureReason | 'DestinationQuota' {
  if (kind === 'refused' && side) return side === 'source' ? 'SourceCredentials' : 'DestinationCredentials';
  if (kind === 'unreachable' && side) return side === 'source' ? 'SourceUnreachable' : 'DestinationUnreachable';
  if (kind === 'quota') return 'DestinationQuota';
  return 'Internal';
}
