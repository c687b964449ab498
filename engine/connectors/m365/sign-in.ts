import { M365AuthError, toM365Error } from './classify-error.ts';
import { msalApp, refreshTokenOf, type MsalApp } from './msal-app.ts';
import { DELEGATED_IMAP_SCOPES, type M365App, type M365Settings } from './types.ts';

/**
 * Starts a user's "Sign in with Microsoft": the authorization code flow with PKCE
 * (RFC 7636, S256) for IMAP.AccessAsUser.All and offline_access. Answers the URL to send
 * the browser to and the code verifier, which the caller keeps sealed with `state` until
 * the callback. `redirectUri` must be registered on the app (https, localhost excepted).
 * `loginHint` pre-fills the account at Microsoft.
 */
export async function beginSignIn(args: {
  app: M365App;
  settings: M365Settings;
  redirectUri: string;
  state: string;
  loginHint?: string;
}): Promise<{ url: string; codeVerifier: string }> {
  const { cca, http } = await msalApp(args.app, args.settings);
  const { CryptoProvider } = await import('@azure/msal-node');
  const pkce = await new CryptoProvider().generatePkceCodes();
  try {
    const url = await cca.getAuthCodeUrl({
      scopes: DELEGATED_IMAP_SCOPES,
      redirectUri: args.redirectUri,
      state: args.state,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      ...(args.loginHint ? { loginHint: args.loginHint } : {}),
    });
    return { url, codeVerifier: pkce.verifier };
  } catch (e) {
    throw toM365Error(e, http.lastFailure);
  }
}

/**
 * Finishes a sign-in: redeems the authorization code with its PKCE verifier and answers
 * the refresh token (to be sealed in the vault), a first access token and the account's
 * user name as Microsoft knows it (its UPN, usually the mail address).
 */
export async function completeSignIn(args: {
  app: M365App;
  settings: M365Settings;
  redirectUri: string;
  code: string;
  codeVerifier: string;
}): Promise<{ refreshToken: string; accessToken: string; expiresOn: Date; username: string }> {
  const { cca, http } = await msalApp(args.app, args.settings);
  let r: Awaited<ReturnType<MsalApp['cca']['acquireTokenByCode']>>;
  try {
    r = await cca.acquireTokenByCode({
      code: args.code,
      codeVerifier: args.codeVerifier,
      redirectUri: args.redirectUri,
      scopes: DELEGATED_IMAP_SCOPES,
    });
  } catch (e) {
    throw toM365Error(e, http.lastFailure);
  }
  const refreshToken = refreshTokenOf(cca);
  if (!r?.accessToken) throw new M365AuthError('error', 'the authority answered without an access token');
  if (!refreshToken)
    throw new M365AuthError(
      'consent',
      'the authority issued no refresh token: the offline_access permission was not granted',
    );
  const claims = (r.idTokenClaims ?? {}) as { preferred_username?: string; upn?: string; email?: string };
  return {
    refreshToken,
    accessToken: r.accessToken,
    expiresOn: r.expiresOn ?? new Date(Date.now() + 3600_000),
    username: r.account?.username || claims.preferred_username || claims.upn || claims.email || '',
  };
}
