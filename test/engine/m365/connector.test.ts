/**
 * The Microsoft 365 connector against a stand-in for Exchange Online: the real Dovecot with
 * its oauth2 passdb introspecting tokens at the test OpenID provider (test/harness/oidc.ts),
 * behind a TLS front (test/harness/imap-proxy.ts) with a certificate of the test CA, reached
 * as `m365://TENANT?imap=127.0.0.1:PORT`. Tokens come from msal-node through the provider.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, closeImap, verifyCredentials } from '../../../engine/connectors/index.ts';
import { appTokenSource, type M365App, type M365Settings } from '../../../engine/connectors/m365/index.ts';
import { parseConnectorUrl } from '../../../engine/domain/connector-url.ts';
import { parseImapUrl } from '../../../engine/connectors/imap/parse-imap-url.ts';
import { startDovecot, type DovecotInstance } from '../../harness/dovecot.ts';
import { startImapProxy, type ImapProxy } from '../../harness/imap-proxy.ts';
import { startOidc, type OidcHarness } from '../../harness/oidc.ts';

let idp: OidcHarness;
let dv: DovecotInstance;
let front: ImapProxy;
let settings: M365Settings;
let url: string;
const options = () => ({ tls: { ca: idp.caPem } });
let n = 0;
async function newApp(): Promise<M365App> {
  const clientId = `imap-app-${++n}`;
  const clientSecret = `s-${Math.random().toString(36).slice(2)}`;
  await idp.addClient({ clientId, clientSecret });
  return { tenantId: idp.tenantId, clientId, clientSecret };
}

beforeAll(async () => {
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
  dv.addUser('alice@contoso.test', 'unused-password');
  front = await startImapProxy({ port: dv.port }, { key: idp.serverKeyPem, cert: idp.serverCertPem });
  url = `m365://${idp.tenantId}?imap=127.0.0.1:${front.port}`;
});
afterAll(async () => {
  await front?.close();
  await dv?.dispose();
  await idp?.close();
});

describe('m365:// URLs', () => {
  it('default to Exchange Online over implicit TLS; ?imap= names another host', () => {
    expect(parseImapUrl('m365://contoso-tenant')).toEqual({ host: 'outlook.office365.com', port: 993, secure: true });
    expect(parseImapUrl('m365://t1?imap=outlook.office365.us:993')).toEqual({
      host: 'outlook.office365.us',
      port: 993,
      secure: true,
    });
    expect(parseImapUrl('m365://t1?imap=partner.outlook.cn')).toEqual({
      host: 'partner.outlook.cn',
      port: 993,
      secure: true,
    });
    expect(parseConnectorUrl('m365://t1', 'destination')).toMatchObject({
      kind: 'm365',
      tenantId: 't1',
      imapHost: 'outlook.office365.com',
      imapPort: 993,
      url: 'm365://t1',
    });
    expect(parseConnectorUrl('m365://t1?imap=127.0.0.1:1993', 'source')).toMatchObject({
      kind: 'm365',
      imapHost: '127.0.0.1',
      imapPort: 1993,
      url: 'm365://t1?imap=127.0.0.1:1993',
    });
    expect(() => parseConnectorUrl('m365://t1?imap=bad host:x', 'source')).toThrow(/imap=HOST:PORT/);
  });
});

describe('app-only IMAP logins (XOAUTH2)', () => {
  it('verifyCredentials gets a token and logs in to the mailbox with it', async () => {
    const app = await newApp();
    const r = await verifyCredentials(
      url,
      'alice@contoso.test',
      { oauth: appTokenSource(app, settings) },
      'destination',
      { options: options() },
    );
    expect(r).toEqual({ ok: true });
    expect(readFileSync(dv.logFile, 'utf8')).toMatch(/Login: user=<alice@contoso\.test>, method=XOAUTH2/);
  });

  it('a token the server no longer takes is renewed and the login retried, not reported as refused', async () => {
    const app = await newApp();
    const src = appTokenSource(app, settings);
    const first = await src.token();
    // The provider ends the token early (as Exchange does when a token is revoked or has
    // expired before the cache thought): the next login is refused once, then renewed.
    await idp.expireAccessTokens(app.clientId);
    const inactiveBefore = idp.introspections.filter((i) => !i.active).length;
    const client = await connectImap({ url, login: 'alice@contoso.test', secret: { oauth: src }, options: options() });
    try {
      expect(client.usable).toBe(true);
    } finally {
      await closeImap(client);
    }
    expect(idp.introspections.filter((i) => !i.active).length).toBe(inactiveBefore + 1);
    expect((await src.token()).accessToken).not.toBe(first.accessToken);
  });

  it("a wrong client secret fails the side with Microsoft's words, and no IMAP login is tried", async () => {
    const app = await newApp();
    const logins = front.events.filter((e) => e.command === 'AUTHENTICATE').length;
    const r = await verifyCredentials(
      url,
      'alice@contoso.test',
      { oauth: appTokenSource({ ...app, clientSecret: 'wrong-secret-value' }, settings) },
      'destination',
      { options: options() },
    );
    expect(r).toMatchObject({ ok: false, kind: 'refused' });
    expect(!r.ok && r.detail).toMatch(
      /^destination server refused the credentials: AADSTS7000215: Invalid client secret provided/,
    );
    expect(JSON.stringify(r)).not.toContain('wrong-secret-value');
    expect(front.events.filter((e) => e.command === 'AUTHENTICATE').length).toBe(logins);
  });

  it('withdrawn consent fails the side with AADSTS65001', async () => {
    const app = await newApp();
    const src = appTokenSource(app, settings);
    expect(
      await verifyCredentials(url, 'alice@contoso.test', { oauth: src }, 'source', { options: options() }),
    ).toEqual({ ok: true });
    await idp.withdrawConsent(app.clientId);
    const r = await verifyCredentials(url, 'alice@contoso.test', { oauth: src }, 'source', { options: options() });
    expect(r).toMatchObject({ ok: false, kind: 'refused' });
    expect(!r.ok && r.detail).toMatch(
      /^source server refused the credentials: AADSTS65001: The user or administrator has not consented/,
    );
  });

  it('an authority that cannot be reached is unreachable', async () => {
    const app = await newApp();
    const r = await verifyCredentials(
      url,
      'alice@contoso.test',
      { oauth: appTokenSource(app, { authorityHost: 'https://127.0.0.1:1', ca: idp.caPem }) },
      'source',
      { options: options() },
    );
    expect(r).toMatchObject({ ok: false, kind: 'unreachable' });
  });

  it(
    '"User is authenticated but not connected" (no permission ' + "on the mailbox) is a refusal in Exchange's words",
    async () => {
      const app = await newApp();
      const exo = await startImapProxy({ port: dv.port }, { key: idp.serverKeyPem, cert: idp.serverCertPem });
      try {
        exo.throttle({
          command: '*',
          times: Infinity,
          backoffMs: 0,
          status: 'BAD',
          reply: 'User is authenticated but not connected.',
        });
        const ep = {
          url: `m365://${idp.tenantId}?imap=127.0.0.1:${exo.port}`,
          login: 'alice@contoso.test',
          secret: { oauth: appTokenSource(app, settings) },
          options: options(),
        };
        let err: unknown;
        const client = await connectImap(ep).catch((e) => ((err = e), null));
        if (client) {
          err = await client.list().then(
            () => null,
            (e) => e,
          );
          await closeImap(client);
        }
        const { classifyImapError, errorDetail } = await import('../../../engine/connectors/imap/classify-error.ts');
        expect(classifyImapError(err)).toBe('refused');
        expect(errorDetail(err)).toMatch(/User is authenticated but not connected/);
      } finally {
        await exo.close();
      }
    },
  );
});
