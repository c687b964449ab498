import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  dovecotAvailable,
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
} from '../harness/dovecot.ts';
import { startImapProxy, type ImapProxy } from '../harness/imap-proxy.ts';
import { startOidc, type OidcHarness } from '../harness/oidc.ts';
import { chromiumAvailable, launchBrowser, type TestBrowser } from '../harness/browser.ts';
import { hashCounts } from '../harness/copy-assert.ts';
import { getForm, makeFormApp, submitForm, type FormTestApp } from './setup.ts';
import { FORM_CSP } from '../../bot/form/headers.ts';
import { Runner } from '../../engine/runner/runner.ts';
import { runPass } from '../../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import type { M365Settings } from '../../engine/connectors/index.ts';
import { testDbBytes } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';

const APP = { clientId: '6c1f3a52-9b0e-4d7a-8e21-3f5b7c9d0a14', clientSecret: 'app-Secret-for-signin-93kq' };
const DST_PW = 'onprem-dst-pw-5';
const ready = dovecotAvailable() && chromiumAvailable();

let idp: OidcHarness;
let dv: DovecotInstance;
let front: ImapProxy;
let browser: TestBrowser;
let t: FormTestApp;
let runner: Runner;
let settings: M365Settings;
const links: string[] = [];
const ADMIN = { surface: 'test', id: 'admin' } as const;

beforeAll(async () => {
  if (!ready) return;
  idp = await startOidc({ domain: 'contoso.test' });
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
  for (const u of ['alice', 'bob', 'carol']) {
    dv.addUser(`${u}@contoso.test`, `${u}-cloud-pw`);
    dv.addUser(`${u}@onprem.test`, DST_PW);
    await seedImap(dv, `${u}@contoso.test`, `${u}-cloud-pw`, {
      INBOX: [
        { raw: makeMessage({ subject: `${u} one`, size: 3000 }), flags: ['\\Seen'] },
        { raw: makeMessage({ subject: `${u} two`, size: 9000 }) },
      ],
      Archive: [{ raw: makeMessage({ subject: `${u} old`, size: 20_000 }) }],
    });
  }
  browser = await launchBrowser({ args: idp.chromiumArgs });
  t = await makeFormApp({}, { m365: settings });
  await idp.addClient({ ...APP, redirectUris: [`${t.base}/oauth/microsoft/callback`] });
  t.app.outreach.addSender({
    kind: 'email',
    send: async (req) => {
      links.push(req.url);
      return { ok: true, via: 'email' };
    },
  });
  runner = new Runner(
    t.app.engine,
    createPrismaCheckpointStore(t.app.db),
    runPass,
    t.app.log.child({ part: 'runner' }),
    { concurrency: 1, pollMs: 200, stopCheckMs: 200, m365: { settings } },
  );
  await runner.start();
  await t.run(
    `project create acme --source m365://${idp.tenantId}?imap=127.0.0.1:${front.port} ` +
      `--destination ${dv.url} --self-service source`,
  );
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await runner?.stop();
  await t?.close();
  await front?.close();
  await dv?.dispose();
  await idp?.close();
});

async function addWaiting(user: string): Promise<string> {
  await t.run(`add ${user}@contoso.test ${user}@onprem.test`);
  await t.app.engine.setCredential(ADMIN, await t.item(`${user}@contoso.test`), 'destination', `${user}@onprem.test`, {
    password: DST_PW,
  });
  const before = links.length;
  await t.run(`start ${user}@contoso.test`);
  expect((await t.item(`${user}@contoso.test`)).status).toBe('WaitingForUser');
  await vi.waitFor(() => expect(links.length).toBe(before + 1));
  return links.at(-1)!;
}

async function waitStatus(address: string, statuses: string[], passCount = 1) {
  await vi.waitFor(
    async () => {
      const i = await t.item(address);
      if (i.passCount < passCount || !statuses.includes(i.status)) throw new Error(`still ${i.status}`);
    },
    { timeout: 120_000, interval: 200 },
  );
  return t.item(address);
}

describe.skipIf(!ready)('Sign in with Microsoft on the credential form', () => {
  it(
    'without the app registration the form says what the admin ' +
      "must do first; the admin connects it for the users' sign-in",
    async () => {
      const link = await addWaiting('carol');
      const page = await getForm(link);
      expect(page.html).toContain('your administrator has to connect the Microsoft 365 app registration first');
      expect(page.html).not.toContain('Sign in with Microsoft</a>');
      expect(page.html).not.toContain('name="source_password"');

      const r = await t.run('project connect acme --source');
      const url = r.text.match(/http:\/\/127\.0\.0\.1:\d+\/c\/[A-Za-z0-9_-]{43}/)![0];
      links.push(url);
      const wrong = await submitForm(url, { client_id: APP.clientId, client_secret: 'not-the-secret', use: 'signin' });
      expect(wrong.status).toBe(422);
      expect(wrong.html).toContain('AADSTS7000215');
      const ok = await submitForm(url, { client_id: APP.clientId, client_secret: APP.clientSecret, use: 'signin' });
      expect(ok.status, ok.html).toBe(200);
      expect(ok.html).toContain('Sign in with Microsoft button');
      // Users are still asked (with the button), the app does not open their mailboxes itself.
      expect((await t.item('carol@contoso.test')).status).toBe('WaitingForUser');
      expect((await t.run('status')).text).toContain('source: users sign in with Microsoft');
      const again = await getForm(link);
      expect(again.html).toContain('Sign in with Microsoft</a>');
      expect(again.headers.get('content-security-policy')).toBe(FORM_CSP);
    },
  );

  it('Chromium: form → Microsoft login and consent → back → ' +
    'verified → migration Completed, no password typed on our form', async () => {
    const link = await addWaiting('alice');
    const page = await browser.context.newPage();
    try {
      await page.goto(link);
      await page.click('a#source-microsoft');
      // The provider's login page, then its consent page.
      await page.waitForSelector('input[name="login"]', { timeout: 30_000 });
      await page.fill('input[name="login"]', 'alice@contoso.test');
      await page.fill('input[name="password"]', 'anything');
      await page.click('button[type="submit"]');
      await page.waitForSelector('button[type="submit"]');
      await page.click('button[type="submit"]');
      await page.waitForSelector('text=your migration has started', { timeout: 30_000 });
      expect(new URL(page.url()).pathname).toBe('/oauth/microsoft/callback');
    } finally {
      await page.close();
    }
    const item = await waitStatus('alice@contoso.test', ['Completed', 'Failed']);
    expect(item.status, JSON.stringify(await t.app.engine.history(item.id))).toBe('Completed');
    expect(hashCounts(await readMailbox(dv, 'alice@onprem.test', DST_PW))).toEqual(
      hashCounts(await readMailbox(dv, 'alice@contoso.test', 'alice-cloud-pw')),
    );
    // A refresh token is what the vault keeps for the source.
    const cred = await t.app.engine.credentialOf(item.id, 'source');
    expect(cred?.secret.refreshToken).toBeTruthy();
    expect(cred?.secret.password).toBeUndefined();
    // The link and the sign-in state were used once.
    expect((await getForm(link)).status).toBe(404);
    expect(await t.app.db.oAuthState.count({ where: { usedAt: null } })).toBe(0);
    // A later delta pass needs no new sign-in.
    await t.run('start alice@contoso.test');
    const second = await waitStatus('alice@contoso.test', ['Completed', 'Failed'], 2);
    expect(second.status).toBe('Completed');
  }, 180_000);

  it('cancelling at Microsoft brings the user back to the form with ' +
    'a calm message and counts no attempt; the state works once', async () => {
    const link = await addWaiting('bob');
    // A new visitor: no session left at the provider from alice's sign-in.
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    let callback = '';
    page.on('request', (r) => {
      if (r.url().includes('/oauth/microsoft/callback')) callback = r.url();
    });
    try {
      await page.goto(link);
      await page.click('a#source-microsoft');
      await page.waitForSelector('input[name="login"]');
      await page.click('text=[ Cancel ]');
      await page.waitForSelector('text=Sign-in cancelled', { timeout: 30_000 });
      expect(await page.content()).toContain('does not count as an attempt');
      expect(new URL(page.url()).pathname).toBe(new URL(link).pathname);
    } finally {
      await page.close();
    }
    expect(callback).toContain('error=access_denied');
    const item = await t.item('bob@contoso.test');
    expect(item.status).toBe('WaitingForUser');
    expect(
      (await t.app.db.credentialLink.findFirstOrThrow({ where: { itemId: item.id, usedAt: null, revokedAt: null } }))
        .attempts,
    ).toBe(0);
    expect(await t.historyKinds('bob@contoso.test')).toContain('signin.cancelled');
    // Replaying the callback (its state is spent) shows the unusable-link page.
    const replay = await getForm(callback);
    expect(replay.status).toBe(404);
  }, 120_000);

  it('an expired refresh token fails the next pass and a new ' +
    'request goes out; nothing secret in logs or the database', async () => {
    await idp.expireRefreshTokens(APP.clientId);
    const before = links.length;
    await t.run('start alice@contoso.test');
    const failed = await waitStatus('alice@contoso.test', ['Failed', 'WaitingForUser'], 3);
    expect(failed.failureReason ?? failed.status, failed.failureDetail ?? '').toMatch(
      /SourceCredentials|WaitingForUser/,
    );
    await vi.waitFor(() => expect(links.length).toBe(before + 1), { timeout: 30_000 });
    expect((await t.item('alice@contoso.test')).status).toBe('WaitingForUser');

    const secrets = [
      APP.clientSecret,
      ...idp.accessTokens,
      ...idp.refreshTokens,
      ...links.map((l) => l.split('/c/')[1]),
    ].filter(Boolean);
    expect(secrets.length).toBeGreaterThan(5);
    const logs = t.logs.join('\n');
    for (const s of secrets) expect(logs).not.toContain(s);
    expect(logs).not.toMatch(/[?&]code=/);
    const bytes = testDbBytes(t.dir);
    expect(bytes.length).toBeGreaterThan(0);
    for (const s of secrets) expect(bytes.includes(defined(s)), 'the database holds a secret in clear').toBe(false);
  }, 180_000);
});
