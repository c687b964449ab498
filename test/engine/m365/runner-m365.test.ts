import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { beginSignIn, completeSignIn, type M365Settings } from '../../../engine/connectors/m365/index.ts';
import { runPass } from '../../../engine/copy/index.ts';
import { Runner } from '../../../engine/runner/runner.ts';
import { createPrismaCheckpointStore } from '../../../engine/store/folder-state.ts';
import { makeMessage, readMailbox, seedImap, startDovecot, type DovecotInstance } from '../../harness/dovecot.ts';
import { hashCounts } from '../../harness/copy-assert.ts';
import { startImapProxy, type ImapProxy } from '../../harness/imap-proxy.ts';
import { startOidc, type OidcHarness } from '../../harness/oidc.ts';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { testDbBytes } from '../../harness/test-db.ts';
import { defined } from '../../harness/defined.ts';

const REDIRECT = 'https://mailferry.test/oauth/microsoft/callback';
const APP = { clientId: 'mailferry-runner-app', clientSecret: 'app-secret-7f3a9c1e' };
const ADMIN = { surface: 'test', id: 'admin' } as const;
let idp: OidcHarness;
let dv: DovecotInstance;
let front: ImapProxy;
let t: TestApp;
let runner: Runner;
let settings: M365Settings;
const codes: string[] = [];

async function status(address: string) {
  const item = await t.app.engine.getItem(await t.app.engine.getProject('acme'), address);
  return item;
}
async function passEnds(address: string, passCount: number) {
  await vi.waitFor(
    async () => {
      const item = await status(address);
      if (item.passCount < passCount || !['Completed', 'Failed'].includes(item.status))
        throw new Error(`still ${item.status}`);
    },
    { timeout: 120_000, interval: 200 },
  );
  return status(address);
}

beforeAll(async () => {
  idp = await startOidc({ domain: 'contoso.test' });
  await idp.addClient({ ...APP, redirectUris: [REDIRECT] });
  settings = { authorityHost: idp.authorityHost, ca: idp.caPem };
  dv = await startDovecot({
    oauth2: {
      introspectionUrl: idp.introspectionUrl,
      caFile: idp.caFile,
      usernameFormat: '%d',
      mechanisms: ['xoauth2'],
    },
  });
  front = await startImapProxy({ port: dv.port }, { key: idp.serverKeyPem, cert: idp.serverCertPem });
  for (const u of ['alice', 'bob']) {
    dv.addUser(`${u}@contoso.test`, `${u}-cloud-pw`);
    dv.addUser(`${u}@onprem.test`, `${u}-onprem-pw`);
    await seedImap(dv, `${u}@contoso.test`, `${u}-cloud-pw`, {
      INBOX: [
        { raw: makeMessage({ subject: `${u} one`, size: 3000 }), flags: ['\\Seen'] },
        { raw: makeMessage({ subject: `${u} two`, size: 9000 }) },
      ],
      Archive: [{ raw: makeMessage({ subject: `${u} old`, size: 20_000 }), flags: ['\\Seen'] }],
    });
  }
  t = await makeTestApp();
  runner = new Runner(
    t.app.engine,
    createPrismaCheckpointStore(t.app.db),
    runPass,
    t.app.log.child({ part: 'runner' }),
    {
      concurrency: 1,
      pollMs: 200,
      stopCheckMs: 200,
      m365: { settings },
    },
  );
  await runner.start();
  await t.run(
    `project create acme --source m365://${idp.tenantId}?imap=127.0.0.1:${front.port} --destination ${dv.url}`,
  );
  // The admin connected the tenant's app registration for the source (`project connect`).
  await t.app.engine.setAdminCredential(ADMIN, await t.app.engine.getProject('acme'), 'source', {
    kind: 'm365-app',
    ...APP,
  });
  await t.run('add alice@contoso.test alice@onprem.test');
  await t.run('add bob@contoso.test bob@onprem.test');
});
afterAll(async () => {
  await runner?.stop();
  await t?.close();
  await front?.close();
  await dv?.dispose();
  await idp?.close();
});

describe('runner: Microsoft 365 source', () => {
  it(
    "a user's sign-in (refresh token in the vault) migrates the mailbox with " +
      'delegated tokens; the rotated refresh token is sealed in place of the old one',
    async () => {
      const { url, codeVerifier } = await beginSignIn({
        app: { ...APP, tenantId: idp.tenantId },
        settings,
        redirectUri: REDIRECT,
        state: 'st-alice',
        loginHint: 'alice@contoso.test',
      });
      const back = await idp.signIn(url, 'alice@contoso.test');
      codes.push(back.searchParams.get('code')!);
      const signedIn = await completeSignIn({
        app: { ...APP, tenantId: idp.tenantId },
        settings,
        redirectUri: REDIRECT,
        code: defined(codes[0]),
        codeVerifier,
      });
      const item = await status('alice@contoso.test');
      await t.app.engine.setCredential(ADMIN, item, 'source', signedIn.username, {
        refreshToken: signedIn.refreshToken,
      });
      await t.app.engine.setCredential(ADMIN, item, 'destination', 'alice@onprem.test', {
        password: 'alice-onprem-pw',
      });
      await t.run('start alice@contoso.test');
      const appTokensBefore = idp.issued.client_credentials ?? 0;
      const done = await passEnds('alice@contoso.test', 1);
      expect(done.status, JSON.stringify(await t.app.engine.history(done.id))).toBe('Completed');
      // The user's own sign-in took precedence over the project's app-only access.
      expect(idp.issued.client_credentials ?? 0).toBe(appTokensBefore);
      expect(idp.issued.refresh_token ?? 0).toBeGreaterThanOrEqual(1);
      const src = await readMailbox(dv, 'alice@contoso.test', 'alice-cloud-pw');
      const dst = await readMailbox(dv, 'alice@onprem.test', 'alice-onprem-pw');
      expect(hashCounts(dst)).toEqual(hashCounts(src));
      // The pass renewed the access token with the refresh token; the provider rotated it, and the vault holds the new
      // one.
      const kept = (await t.app.engine.credentialOf(item.id, 'source'))!.secret.refreshToken!;
      expect(kept).not.toBe(signedIn.refreshToken);
      expect(idp.refreshTokens).toContain(kept);
    },
  );

  it("the project's app registration logs in as a mailbox whose user never signed in", async () => {
    const item = await status('bob@contoso.test');
    // Nothing of the user's is stored for the source: the admin's app logs in as the mailbox.
    expect(await t.app.engine.credentialOf(item.id, 'source')).toBeUndefined();
    await t.app.engine.setCredential(ADMIN, item, 'destination', 'bob@onprem.test', { password: 'bob-onprem-pw' });
    const before = idp.issued.client_credentials ?? 0;
    await t.run('start bob@contoso.test');
    const done = await passEnds('bob@contoso.test', 1);
    expect(done.status, JSON.stringify(await t.app.engine.history(done.id))).toBe('Completed');
    expect((idp.issued.client_credentials ?? 0) - before).toBeGreaterThanOrEqual(1);
    expect(hashCounts(await readMailbox(dv, 'bob@onprem.test', 'bob-onprem-pw'))).toEqual(
      hashCounts(await readMailbox(dv, 'bob@contoso.test', 'bob-cloud-pw')),
    );
  });

  it(
    'a refresh token that stopped working fails the next ' + "pass as the source's credentials, in Microsoft's words",
    async () => {
      await idp.expireRefreshTokens(APP.clientId);
      await t.run('start alice@contoso.test');
      const failed = await passEnds('alice@contoso.test', 2);
      expect(failed.status).toBe('Failed');
      expect(failed.failureReason).toBe('SourceCredentials');
      expect(failed.failureDetail).toMatch(/AADSTS700082: The refresh token has expired/);
    },
  );

  it('no token, secret, code or refresh token in any log line or unencrypted in the database', async () => {
    const secrets = [APP.clientSecret, ...codes, ...idp.accessTokens, ...idp.refreshTokens].filter(Boolean);
    expect(secrets.length).toBeGreaterThan(5);
    const logs = t.logs.join('\n');
    expect(logs).toMatch(/pass finished/);
    for (const s of secrets) expect(logs).not.toContain(s);
    const bytes = testDbBytes(t.dir);
    expect(bytes.length).toBeGreaterThan(0);
    for (const s of secrets) expect(bytes.includes(s), 'the database holds a secret in clear').toBe(false);
  });
});
