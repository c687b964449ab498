import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { serveHttp } from '../../../bot/app.ts';
import { teamsPlugin } from '../../../adapters/teams/plugin.ts';
import { checkTeamsSettings, TeamsConfigError } from '../../../adapters/teams/install-teams.ts';
import { PasswordServiceClientCredentialFactory } from 'botframework-connector';
import { ConnectorRecorder, TokenIssuer, channelMessage, postActivity } from './teams-harness.ts';
import { defined } from '../../harness/defined.ts';

const APP_ID = '00000000-0000-4000-8000-00000000b0a7';
const ADMIN_AAD = '6f1c2a3b-0000-4000-8000-00000000ada1';

/** Outbound credentials for tests: a fixed bearer token instead of an MSAL call to Entra ID. */
class StaticCredentials extends PasswordServiceClientCredentialFactory {
  constructor() {
    super(APP_ID, 'test-secret', '');
  }
  async createCredentials(): Promise<any> {
    return { signRequest: async (r: any) => (r.headers.set('authorization', 'Bearer outbound-test-token'), r) };
  }
}

describe('Teams authentication (MicrosoftAppId set)', () => {
  let t: TestApp;
  let rec: ConnectorRecorder;
  let issuer: TokenIssuer;
  let base: string;
  const good = () => issuer.token({ aud: APP_ID, serviceurl: rec.url });
  const message = (id: string) => channelMessage(rec.url, 'help', { id });

  beforeAll(async () => {
    rec = await new ConnectorRecorder().start();
    issuer = await new TokenIssuer().start();
    t = await makeTestApp({
      MicrosoftAppId: APP_ID,
      MicrosoftAppPassword: 'test-secret',
      MAILFERRY_ADMINS: `teams:${ADMIN_AAD}`,
    });
    teamsPlugin(t.app, 'serve', { openIdMetadataUrl: issuer.metadataUrl, credentialsFactory: new StaticCredentials() });
    base = `http://127.0.0.1:${(await serveHttp(t.app)).port}`;
  });
  afterAll(async () => {
    await t?.close();
    await rec?.close();
    await issuer?.close();
  });

  it("accepts a correctly signed request and answers with the bot's own credentials", async () => {
    const r = await postActivity(base, message('7000'), good());
    expect(r.status).toBe(200);
    const [reply] = rec.activities((c) => c.activityId === '7000');
    expect(ConnectorRecorder.cardText(ConnectorRecorder.card(defined(reply)))).toContain('MailFerry commands');
    expect(defined(reply).authorization).toBe('Bearer outbound-test-token');
  });

  it('rejects an unsigned request', async () => {
    const r = await postActivity(base, message('7001'));
    expect(r.status).toBe(401);
    const [header, payload] = good().split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    expect((await postActivity(base, message('7002'), none)).status).toBe(401);
    expect(header).toBeTruthy();
  });

  it('rejects a token signed with another key', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const r = await postActivity(
      base,
      message('7003'),
      issuer.token({ aud: APP_ID, serviceurl: rec.url }, { key: other }),
    );
    expect(r.status).toBe(401);
  });

  it('rejects an expired token', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const r = await postActivity(
      base,
      message('7004'),
      issuer.token({ aud: APP_ID, serviceurl: rec.url, iat: past - 3600, nbf: past - 3600, exp: past }),
    );
    expect(r.status).toBe(401);
  });

  it('rejects a token for another bot (wrong audience)', async () => {
    const r = await postActivity(
      base,
      message('7005'),
      issuer.token({ aud: '11111111-2222-4333-8444-555555555555', serviceurl: rec.url }),
    );
    expect(r.status).toBe(401);
  });

  it('rejects a token from another issuer, or for another service URL', async () => {
    expect(
      (
        await postActivity(
          base,
          message('7006'),
          issuer.token({ aud: APP_ID, serviceurl: rec.url, iss: 'https://evil.example' }),
        )
      ).status,
    ).toBe(401);
    expect(
      (
        await postActivity(
          base,
          message('7007'),
          issuer.token({ aud: APP_ID, serviceurl: 'https://smba.evil.example/' }),
        )
      ).status,
    ).toBe(401);
  });

  it('processed none of the rejected requests, and logged why without the tokens', () => {
    const answered = rec.activities().map((c) => c.activityId);
    expect(answered).toEqual(['7000']);
    expect(t.logs.filter((l) => /Teams request refused: not authenticated/.test(l)).length).toBeGreaterThanOrEqual(7);
    // A JWT starts with the base64url of '{"alg"…': none may reach a log line.
    expect(t.logs.filter((l) => /eyJ/.test(l))).toEqual([]);
  });
});

describe('Teams start-up checks', () => {
  it('refuses an empty app id unless MAILFERRY_DEV=1', () => {
    expect(() => checkTeamsSettings({ dev: false })).toThrow(TeamsConfigError);
    expect(() => checkTeamsSettings({ dev: false })).toThrow(/MicrosoftAppId is empty/);
    expect(() => checkTeamsSettings({ dev: true })).not.toThrow();
    expect(() => checkTeamsSettings({ appId: APP_ID, dev: false })).toThrow(/MicrosoftAppPassword is empty/);
    expect(() => checkTeamsSettings({ appId: APP_ID, appPassword: 'x', dev: false })).not.toThrow();
  });

  it('refuses to start half-configured, and without any Teams settings answers 401 to every request', async () => {
    const half = await makeTestApp({ MicrosoftAppPassword: 'secret-without-id' });
    try {
      expect(() => teamsPlugin(half.app, 'serve')).toThrow(TeamsConfigError);
    } finally {
      await half.close();
    }
    const none = await makeTestApp({});
    try {
      expect(teamsPlugin(none.app, 'serve')).toBeUndefined();
      const { port } = await serveHttp(none.app);
      const r = await postActivity(
        `http://127.0.0.1:${port}`,
        channelMessage('http://127.0.0.1:9/', 'help', { id: '1' }),
      );
      expect(r.status).toBe(401);
    } finally {
      await none.close();
    }
  });
});
