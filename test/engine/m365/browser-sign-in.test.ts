/**
 * "Sign in with Microsoft" as a person does it, in Debian's Chromium: the authorization URL
 * from beginSignIn, the test provider's login and consent pages (test/harness/oidc.ts),
 * and back to the redirect URI with a code that completeSignIn redeems.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginSignIn, completeSignIn, type M365App, type M365Settings } from '../../../engine/connectors/m365/index.ts';
import { chromiumAvailable, launchBrowser, type TestBrowser } from '../../harness/browser.ts';
import { startOidc, type OidcHarness } from '../../harness/oidc.ts';

const REDIRECT = 'https://127.0.0.1:9/oauth/microsoft/callback';
let idp: OidcHarness;
let browser: TestBrowser;
let settings: M365Settings;
let app: M365App;

beforeAll(async () => {
  idp = await startOidc();
  settings = { authorityHost: idp.authorityHost, ca: idp.caPem };
  app = { tenantId: idp.tenantId, clientId: 'browser-app', clientSecret: 'browser-secret' };
  await idp.addClient({ clientId: app.clientId, clientSecret: app.clientSecret!, redirectUris: [REDIRECT] });
  browser = await launchBrowser({ args: idp.chromiumArgs });
});
afterAll(async () => {
  await browser?.close();
  await idp?.close();
});

/** Follows the browser until it is sent to the redirect URI (which nothing serves here) and answers that URL. */
async function signInWithChromium(
  url: string,
  fill: (page: import('playwright-core').Page) => Promise<void>,
): Promise<URL> {
  const page = await browser.context.newPage();
  try {
    const back = page.waitForRequest((r) => r.url().startsWith(REDIRECT), { timeout: 30_000 });
    await page.goto(url);
    await fill(page);
    return new URL((await back).url());
  } finally {
    await page.close();
  }
}

describe.skipIf(!chromiumAvailable())('Sign in with Microsoft in Chromium (test provider)', () => {
  it('login, consent, back with a code the engine redeems', async () => {
    const { url, codeVerifier } = await beginSignIn({
      app,
      settings,
      redirectUri: REDIRECT,
      state: 'chromium-1',
      loginHint: 'frank@contoso.test',
    });
    const back = await signInWithChromium(url, async (page) => {
      await page.fill('input[name=password]', 'any password');
      await page.click('button[type=submit]');
      await page.waitForSelector('button[autofocus], button[type=submit]');
      await page.click('button[type=submit]');
    });
    expect(back.searchParams.get('state')).toBe('chromium-1');
    const done = await completeSignIn({
      app,
      settings,
      redirectUri: REDIRECT,
      code: back.searchParams.get('code')!,
      codeVerifier,
    });
    expect(done.username).toBe('frank@contoso.test');
    expect(done.refreshToken).toBeTruthy();
  });

  it("Cancel on the provider's page comes back with access_denied (AADSTS65004)", async () => {
    const { url } = await beginSignIn({ app, settings, redirectUri: REDIRECT, state: 'chromium-2' });
    const back = await signInWithChromium(url, async (page) => {
      await page.click('text=[ Cancel ]');
    });
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toMatch(/^AADSTS65004/);
    expect(back.searchParams.get('state')).toBe('chromium-2');
  });
});
