import { toM365Error } from './classify-error.ts';
import { msalApp, refreshTokenOf, type MsalApp } from './msal-app.ts';
import {
  APP_IMAP_SCOPE,
  DELEGATED_IMAP_SCOPES,
  type AccessToken,
  type M365App,
  type M365Settings,
  type TokenSource,
} from './types.ts';

/** Renewal margin: a token is renewed when less than this share of its life (at most 5 minutes) is left. */
function stillGood(t: { token: AccessToken; obtainedAt: number }, now: number): boolean {
  const life = t.token.expiresOn.getTime() - t.obtainedAt;
  const margin = Math.min(5 * 60_000, Math.max(0, life) / 4);
  return t.token.expiresOn.getTime() - now > margin;
}

/**
 * A cache of one token: answers the cached token while comfortably valid, fetches a new
 * one otherwise or when forced, and lets concurrent callers (the connections of one pass)
 * share a single request to the authority.
 */
function cachedSource(fetch: () => Promise<AccessToken>): TokenSource {
  let cached: { token: AccessToken; obtainedAt: number } | undefined;
  let inflight: Promise<AccessToken> | undefined;
  return {
    async token(opts = {}) {
      if (!opts.forceRefresh && cached && stillGood(cached, Date.now())) return cached.token;
      inflight ??= (async () => {
        try {
          const obtainedAt = Date.now();
          const token = await fetch();
          cached = { token, obtainedAt };
          return token;
        } finally {
          inflight = undefined;
        }
      })();
      return inflight;
    },
  };
}

/**
 * App-only tokens (client credentials grant, application permission IMAP.AccessAsApp):
 * msal-node's `acquireTokenByClientCredential` with scope
 * https://outlook.office365.com/.default. One token serves every mailbox the app may open;
 * it is renewed before it expires. Failures are {@link M365AuthError}s in Microsoft's words.
 */
export function appTokenSource(app: M365App, settings: M365Settings): TokenSource {
  let client: MsalApp | undefined;
  return cachedSource(async () => {
    try {
      client ??= await msalApp(app, settings);
      // Our cache decides when to renew; msal-node's own would keep a token up to 5 minutes before its end.
      const r = await client.cca.acquireTokenByClientCredential({ scopes: [APP_IMAP_SCOPE], skipCache: true });
      if (!r?.accessToken) throw new Error('the authority answered without an access token');
      return { accessToken: r.accessToken, expiresOn: r.expiresOn ?? new Date(Date.now() + 3600_000) };
    } catch (e) {
      throw toM365Error(e, client?.http.lastFailure);
    }
  });
}

/**
 * Delegated tokens of one user (scopes IMAP.AccessAsUser.All and offline_access) from the
 * refresh token of their sign-in: msal-node's `acquireTokenByRefreshToken`. When the
 * authority rotates the refresh token, `onRotated` gets the new one (to be sealed in place
 * of the old); later requests use it. A refresh token that stopped working (expired,
 * revoked, consent withdrawn) fails with an {@link M365AuthError} of kind `refused` or
 * `consent` in Microsoft's words: the user has to sign in again.
 */
export function delegatedTokenSource(
  app: M365App,
  refreshToken: string,
  settings: M365Settings,
  onRotated?: (refreshToken: string) => void | Promise<void>,
): TokenSource {
  let current = refreshToken;
  let client: MsalApp | undefined;
  return cachedSource(async () => {
    let r: Awaited<ReturnType<MsalApp['cca']['acquireTokenByRefreshToken']>>;
    try {
      client ??= await msalApp(app, settings);
      // forceCache: msal-node keeps a refreshed result (and the rotated refresh token) only for
      // accounts already in its cache; this fresh client has none.
      r = await client.cca.acquireTokenByRefreshToken({
        refreshToken: current,
        scopes: DELEGATED_IMAP_SCOPES,
        forceCache: true,
      });
      if (!r?.accessToken) throw new Error('the authority answered without an access token');
    } catch (e) {
      throw toM365Error(e, client?.http.lastFailure);
    }
    const next = refreshTokenOf(client.cca);
    if (next && next !== current) {
      current = next;
      await onRotated?.(next);
    }
    return { accessToken: r.accessToken, expiresOn: r.expiresOn ?? new Date(Date.now() + 3600_000) };
  });
}

/** A fixed access token (tests, a token from elsewhere): never renewed. */
export function staticTokenSource(accessToken: string, expiresOn = new Date(Date.now() + 3600_000)): TokenSource {
  return { token: async () => ({ accessToken, expiresOn }) };
}
