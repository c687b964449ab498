/**
 * Microsoft 365: tokens from Microsoft's identity platform (msal-node) for IMAP on Exchange
 * Online with SASL XOAUTH2. App-only (client credentials, IMAP.AccessAsApp) for admins;
 * delegated (authorization code + PKCE, refresh tokens) for a user's own sign-in.
 */
export type { M365App, M365Settings, TokenSource, AccessToken } from './types.ts';
export { APP_IMAP_SCOPE, DELEGATED_IMAP_SCOPES, M365_IMAP_HOST, M365_IMAP_PORT } from './types.ts';
export { m365Settings, authorityOf, DEFAULT_AUTHORITY_HOST } from './settings.ts';
export { appTokenSource, delegatedTokenSource, staticTokenSource } from './token-source.ts';
export { beginSignIn, completeSignIn } from './sign-in.ts';
export { M365AuthError, toM365Error, type M365ErrorKind } from './classify-error.ts';
export { parseM365Url, type M365Address } from './parse-m365-url.ts';
