/**
 * Microsoft 365 token sources and sign-in against a real OpenID provider over HTTPS
 * (test/harness/oidc.ts, oidc-provider) standing in for Microsoft's identity platform:
 * msal-node talks to it through its normal flows, with the test CA trusted in process.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appTokenSource,
  beginSignIn,
  completeSignIn,
  delegatedTokenSource,
  m365Settings,
  M365AuthError,
  type M365App,
  type M365Settings,
} from '../../../engine/connectors/m365/index.ts';
import { freePort } from '../../harness/dovecot.ts';
import { startOidc, type OidcHarness } from '../../harness/oidc.ts';

let idp: OidcHarness;
let settings: M365Settings;
const REDIRECT = 'https://127.0.0.1:1/oauth/microsoft/callback';
let n = 0;
/** A fresh app registration per test (the harness's consent and expiry switches are per client). */
async function newApp(): Promise<M365App> {
  const clientId = `app-${++n}-${Math.random().toString(36).slice(2, 8)}`;
  const clientSecret = `secret-${Math.random().toString(36).slice(2)}`;
  await idp.addClient({ clientId, clientSecret, redirectUris: [REDIRECT] });
  return { tenantId: idp.tenantId, clientId, clientSecret };
}
async function failure(p: Promise<unknown>): Promise<M365AuthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(M365AuthError);
    return e as M365AuthError;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  idp = await startOidc();
  settings = { authorityHost: idp.authorityHost, ca: idp.caPem };
});
afterAll(async () => {
  await idp?.close();
});

describe('settings', () => {
  it('MICROSOFT_AUTHORITY_HOST defaults to the global cloud, takes a sovereign one, refuses http', () => {
    expect(m365Settings({})).toEqual({ authorityHost: 'https://login.microsoftonline.com' });
    expect(m365Settings({ MICROSOFT_AUTHORITY_HOST: 'https://login.microsoftonline.us/' })).toEqual({
      authorityHost: 'https://login.microsoftonline.us',
    });
    expect(m365Settings({ MICROSOFT_AUTHORITY_HOST: 'login.chinacloudapi.cn' })).toEqual({
      authorityHost: 'https://login.chinacloudapi.cn',
    });
    expect(() => m365Settings({ MICROSOFT_AUTHORITY_HOST: 'http://login.example' })).toThrow(/https/);
  });
});

describe('app-only tokens (client credentials)', () => {
  it('gets a token, serves it from the cache, renews it when forced', async () => {
    const app = await newApp();
    const src = appTokenSource(app, settings);
    const before = idp.issued.client_credentials ?? 0;
    const a = await src.token();
    expect(idp.accessTokens).toContain(a.accessToken);
    expect(a.expiresOn.getTime()).toBeGreaterThan(Date.now());
    // Four connections asking at once share one request.
    const same = await Promise.all([src.token(), src.token(), src.token(), src.token()]);
    expect(same.every((t) => t.accessToken === a.accessToken)).toBe(true);
    expect((idp.issued.client_credentials ?? 0) - before).toBe(1);
    const b = await src.token({ forceRefresh: true });
    expect(b.accessToken).not.toBe(a.accessToken);
    expect((idp.issued.client_credentials ?? 0) - before).toBe(2);
  });

  it('renews a token before it expires', async () => {
    idp.setAccessTokenTtl(4);
    try {
      const app = await newApp();
      const src = appTokenSource(app, settings);
      const a = await src.token();
      // The cache keeps a quarter of the life as margin: past three quarters, a new token.
      while (Date.now() < a.expiresOn.getTime() - 500) await new Promise((r) => setTimeout(r, 100));
      const b = await src.token();
      expect(b.accessToken).not.toBe(a.accessToken);
    } finally {
      idp.setAccessTokenTtl(3600);
    }
  });

  it('a certificate credential (private key + thumbprint) gets a token; another key is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cert-'));
    try {
      const cert = (name: string) => {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'rsa:2048',
            '-nodes',
            '-keyout',
            join(dir, `${name}.key`),
            '-out',
            join(dir, `${name}.pem`),
            '-days',
            '2',
            '-subj',
            `/CN=${name}`,
          ],
          { stdio: 'ignore' },
        );
        const pem = readFileSync(join(dir, `${name}.pem`), 'utf8');
        return {
          pem,
          privateKeyPem: readFileSync(join(dir, `${name}.key`), 'utf8'),
          thumbprint: new X509Certificate(pem).fingerprint256,
        };
      };
      const good = cert('good');
      const other = cert('other');
      const clientId = `cert-app-${++n}`;
      await idp.addClient({ clientId, certificatePem: good.pem });
      const t = await appTokenSource(
        {
          tenantId: idp.tenantId,
          clientId,
          certificate: { privateKeyPem: good.privateKeyPem, thumbprint: good.thumbprint },
        },
        settings,
      ).token();
      expect(idp.accessTokens).toContain(t.accessToken);
      const e = await failure(
        appTokenSource(
          {
            tenantId: idp.tenantId,
            clientId,
            certificate: { privateKeyPem: other.privateKeyPem, thumbprint: other.thumbprint },
          },
          settings,
        ).token(),
      );
      expect(e.kind).toBe('refused');
      expect(e.detail).toMatch(
        /^AADSTS700027: The certificate with identifier used to sign the client assertion is not registered/,
      );
      expect(JSON.stringify({ ...e, m: e.message })).not.toContain('PRIVATE KEY');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a wrong client secret and an unknown app are refused in Microsoft's words, without the secret", async () => {
    const app = await newApp();
    const wrong = await failure(appTokenSource({ ...app, clientSecret: 'not-the-secret' }, settings).token());
    expect(wrong.kind).toBe('refused');
    expect(wrong.aadsts).toBe('AADSTS7000215');
    expect(wrong.detail).toMatch(/^AADSTS7000215: Invalid client secret provided/);
    expect(wrong.detail).not.toMatch(/Trace ID|Correlation ID/);
    expect(JSON.stringify({ ...wrong, m: wrong.message })).not.toContain('not-the-secret');
    const unknown = await failure(appTokenSource({ ...app, clientId: 'no-such-app' }, settings).token());
    expect(unknown.kind).toBe('refused');
    expect(unknown.detail).toMatch(/^AADSTS700016: Application with identifier 'no-such-app' was not found/);
  });

  it("withdrawn consent is its own kind, in Microsoft's words", async () => {
    const app = await newApp();
    await idp.withdrawConsent(app.clientId);
    const e = await failure(appTokenSource(app, settings).token());
    expect(e.kind).toBe('consent');
    expect(e.detail).toMatch(/^AADSTS65001: The user or administrator has not consented/);
  });

  it('an authority that cannot be reached is unreachable, not refused', async () => {
    const app = await newApp();
    const port = await freePort();
    const e = await failure(appTokenSource(app, { authorityHost: `https://127.0.0.1:${port}`, ca: idp.caPem }).token());
    expect(e.kind).toBe('unreachable');
    expect(e.detail).toMatch(/ECONNREFUSED/);
  });

  it('an authority whose certificate is not trusted is unreachable (TLS), not refused', async () => {
    const app = await newApp();
    const e = await failure(appTokenSource(app, { authorityHost: idp.authorityHost }).token());
    expect(e.kind).toBe('unreachable');
  });
});

describe('delegated sign-in (authorization code + PKCE, refresh tokens)', () => {
  it('signs in, redeems the code, renews with the refresh token and reports its rotation', async () => {
    const app = await newApp();
    const { url, codeVerifier } = await beginSignIn({
      app,
      settings,
      redirectUri: REDIRECT,
      state: 'link-state-1',
      loginHint: 'alice@contoso.test',
    });
    const authUrl = new URL(url);
    expect(authUrl.origin).toBe(idp.authorityHost);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('scope')).toContain('https://outlook.office.com/IMAP.AccessAsUser.All');
    expect(authUrl.searchParams.get('scope')).toContain('offline_access');
    expect(authUrl.searchParams.get('state')).toBe('link-state-1');
    expect(url).not.toContain(codeVerifier);

    const back = await idp.signIn(url, 'alice@contoso.test');
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe('link-state-1');
    const code = back.searchParams.get('code')!;
    expect(code).toBeTruthy();

    const done = await completeSignIn({ app, settings, redirectUri: REDIRECT, code, codeVerifier });
    expect(done.username).toBe('alice@contoso.test');
    expect(idp.refreshTokens).toContain(done.refreshToken);
    expect(idp.accessTokens).toContain(done.accessToken);

    const rotated: string[] = [];
    const src = delegatedTokenSource(app, done.refreshToken, settings, (rt) => void rotated.push(rt));
    const t1 = await src.token();
    expect(t1.accessToken).not.toBe(done.accessToken);
    expect(rotated).toHaveLength(1);
    expect(rotated[0]).not.toBe(done.refreshToken);
    // The rotated token is the one used next: a second renewal works and rotates again.
    await src.token({ forceRefresh: true });
    expect(rotated).toHaveLength(2);
  });

  it('a code redeemed without its verifier is refused', async () => {
    const app = await newApp();
    const { url } = await beginSignIn({ app, settings, redirectUri: REDIRECT, state: 's2' });
    const back = await idp.signIn(url, 'bob@contoso.test');
    const e = await failure(
      completeSignIn({
        app,
        settings,
        redirectUri: REDIRECT,
        code: back.searchParams.get('code')!,
        codeVerifier: 'x'.repeat(43),
      }),
    );
    expect(e.kind).toBe('refused');
  });

  it("a cancelled sign-in comes back with access_denied in Microsoft's words", async () => {
    const app = await newApp();
    const { url } = await beginSignIn({ app, settings, redirectUri: REDIRECT, state: 's3' });
    const back = await idp.signIn(url, 'carol@contoso.test', { cancel: true });
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toMatch(/^AADSTS65004/);
    expect(back.searchParams.get('state')).toBe('s3');
  });

  it("an expired refresh token and withdrawn consent fail the renewal in Microsoft's words", async () => {
    const app = await newApp();
    const { url, codeVerifier } = await beginSignIn({ app, settings, redirectUri: REDIRECT, state: 's4' });
    const back = await idp.signIn(url, 'dave@contoso.test');
    const done = await completeSignIn({
      app,
      settings,
      redirectUri: REDIRECT,
      code: back.searchParams.get('code')!,
      codeVerifier,
    });
    await idp.expireRefreshTokens(app.clientId);
    const expired = await failure(delegatedTokenSource(app, done.refreshToken, settings).token());
    expect(expired.kind).toBe('refused');
    expect(expired.detail).toMatch(/^AADSTS700082: The refresh token has expired/);

    const app2 = await newApp();
    const s2 = await beginSignIn({ app: app2, settings, redirectUri: REDIRECT, state: 's5' });
    const back2 = await idp.signIn(s2.url, 'erin@contoso.test');
    const done2 = await completeSignIn({
      app: app2,
      settings,
      redirectUri: REDIRECT,
      code: back2.searchParams.get('code')!,
      codeVerifier: s2.codeVerifier,
    });
    await idp.withdrawConsent(app2.clientId);
    const withdrawn = await failure(delegatedTokenSource(app2, done2.refreshToken, settings).token());
    expect(withdrawn.kind).toBe('consent');
    expect(withdrawn.detail).toMatch(/^AADSTS65001/);
  });
});
