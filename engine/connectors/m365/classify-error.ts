/**
 * Token failures in Microsoft's own words. Entra ID answers a refused token request with
 * an OAuth 2.0 error (RFC 6749 §5.2) whose description starts with an AADSTS code; the code
 * says what the admin or the user has to fix, so it decides the kind and the text is kept.
 */

/** How a token failure is classified. `consent`: the admin's or the user's consent is missing or was withdrawn. */
export type M365ErrorKind = 'refused' | 'consent' | 'unreachable' | 'throttled' | 'error';

/** A token could not be had. `detail` is the authority's text (AADSTS code first), never a secret. */
export class M365AuthError extends Error {
  readonly code = 'M365_AUTH';
  /** e.g. `AADSTS7000215`, when the authority gave one. */
  readonly aadsts?: string;
  constructor(
    readonly kind: M365ErrorKind,
    readonly detail: string,
    aadsts?: string,
  ) {
    super(detail);
    this.name = 'M365AuthError';
    this.aadsts = aadsts;
  }
}

/** AADSTS codes that mean the app's or the user's credential is wrong, expired or unusable. */
const REFUSED = new Set([
  7000215, // invalid client secret
  7000222, // client secret expired
  700016, // application not found in the directory
  700027, // client assertion (certificate) failed signature validation
  700024, // client assertion not within its valid time range
  7000112, // application disabled
  90002, // tenant not found
  900023, // tenant identifier malformed
  50126, // invalid user name or password
  50034, // user account does not exist
  50057, // user account disabled
  50053, // account locked
  53003, // blocked by Conditional Access
  700082, // refresh token expired by inactivity
  70008, // refresh token / code expired or revoked
  50173, // grant expired because the user changed the password
  70000, // grant invalid or malformed
  54005, // authorization code already redeemed
]);
/** AADSTS codes that mean consent is missing or was withdrawn, or a sign-in is needed again. */
const CONSENT = new Set([65001, 65004, 650051, 650052, 50076, 50079, 50158, 500011]);
/** AADSTS codes of a busy authority. */
const THROTTLED = new Set([50196, 90033]);

/** Network codes of an authority that cannot be reached (DNS, TCP, TLS): these names, and names with these prefixes. */
const NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'];
const NETWORK_CODES_MORE = ['ETIMEDOUT', 'EPIPE', 'ECONNABORTED'];
const NETWORK_PREFIXES = ['UND_ERR_', 'ERR_TLS', 'ERR_SSL', 'CERT_', 'UNABLE_TO_', 'DEPTH_ZERO', 'SELF_SIGNED'];
const NETWORK = new RegExp(
  `^(${[...NETWORK_CODES, ...NETWORK_CODES_MORE, ...NETWORK_PREFIXES.map((p) => `${p}.*`)].join('|')})$`,
);

/**
 * Microsoft's text without its trace and correlation ids and timestamp (they change on
 * every request). msal-node wraps the description as `Error(s): N - Timestamp: … -
 * Description: AADSTS…: … - Correlation ID: … - Trace ID: …`; Entra ID's own description
 * ends with `Trace ID: … Correlation ID: … Timestamp: …`.
 */
function wordsOf(text: string): string {
  const described = /Description:\s*([\s\S]*?)(?:\s+-\s+(?:Correlation ID|Trace ID|Timestamp):|$)/.exec(text);
  return (described?.[1] ?? text)
    .replace(/\s*(Trace ID|Correlation ID|Timestamp):[\s\S]*$/, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 500);
}

/**
 * Classifies an msal-node error (or a network failure the HTTP client saw, given as
 * `network`) as a {@link M365AuthError}. `what` says whose token it was ("app" / "user").
 */
export function toM365Error(err: unknown, network?: { code?: string; message: string }): M365AuthError {
  if (err instanceof M365AuthError) return err;
  const e = err as
    | { errorCode?: string; errorMessage?: string; subError?: string; message?: string; status?: number }
    | undefined;
  const text = String(e?.errorMessage || e?.message || err);
  const m = /AADSTS(\d+)/.exec(text) ?? /AADSTS(\d+)/.exec(String(e?.errorCode ?? ''));
  const code = m ? Number(m[1]) : undefined;
  const aadsts = code !== undefined ? `AADSTS${code}` : undefined;
  const words = wordsOf(text);
  if (code !== undefined) {
    if (CONSENT.has(code)) return new M365AuthError('consent', words, aadsts);
    if (REFUSED.has(code)) return new M365AuthError('refused', words, aadsts);
    if (THROTTLED.has(code)) return new M365AuthError('throttled', words, aadsts);
  }
  const oauth = String(e?.errorCode ?? '');
  if (oauth === 'invalid_client' || oauth === 'invalid_grant' || oauth === 'unauthorized_client')
    return new M365AuthError('refused', words, aadsts);
  if (
    oauth === 'interaction_required' ||
    oauth === 'consent_required' ||
    oauth === 'login_required' ||
    oauth === 'access_denied'
  )
    return new M365AuthError('consent', words, aadsts);
  if (oauth === 'temporarily_unavailable' || e?.status === 429) return new M365AuthError('throttled', words, aadsts);
  if (
    network &&
    (oauth === 'network_error' || oauth === 'endpoints_resolution_error' || oauth === 'openid_config_error' || !oauth)
  ) {
    return new M365AuthError(
      'unreachable',
      `the Microsoft authority could not be ` +
        `reached: ${network.code ? network.code + ': ' : ''}${wordsOf(network.message)}`,
    );
  }
  if (oauth === 'network_error' || oauth === 'endpoints_resolution_error')
    return new M365AuthError('unreachable', `the Microsoft authority could not be reached: ${words}`);
  if (code !== undefined) return new M365AuthError('refused', words, aadsts);
  return new M365AuthError('error', words);
}

/** True when a network error code means the host could not be reached. */
export function isNetworkCode(code: string | undefined): boolean {
  return !!code && NETWORK.test(code);
}
