/**
 * Copies through the engine with Microsoft 365 on one side, against real parts: the test
 * OpenID provider (test/harness/oidc.ts) as Microsoft's identity platform, msal-node getting
 * app-only tokens from it, and a Dovecot whose oauth2 passdb introspects those tokens,
 * behind a TLS front with a certificate of the test CA (`m365://TENANT?imap=127.0.0.1:PORT`):
 * Dovecot plays Exchange Online. The other side is the same Dovecot over plain IMAP with passwords.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorEndpoint } from '../../../engine/connectors/types.ts';
import { appTokenSource, type M365App, type M365Settings } from '../../../engine/connectors/m365/index.ts';
import { createMemoryCheckpointStore, runPass } from '../../../engine/copy/index.ts';
import {
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../../harness/dovecot.ts';
import { startImapProxy, type ImapProxy } from '../../harness/imap-proxy.ts';
import { endpoint, folderKeys, folderNames, hashCounts } from '../../harness/copy-assert.ts';
import { startOidc, type OidcHarness } from '../../harness/oidc.ts';

let idp: OidcHarness;
let dv: DovecotInstance;
let front: ImapProxy;
let settings: M365Settings;
let n = 0;

async function newApp(): Promise<M365App> {
  const clientId = `copy-app-${++n}`;
  const clientSecret = `s-${Math.random().toString(36).slice(2)}`;
  await idp.addClient({ clientId, clientSecret });
  return { tenantId: idp.tenantId, clientId, clientSecret };
}
/** A mailbox at "Microsoft 365" (reached with app tokens) and one on the IMAP server (password). */
function mailboxes(m365: { maxMailSize?: string } = {}) {
  n++;
  const cloud = { name: `user${n}@contoso.test`, pw: `cloud-pw-${n}` };
  const onprem = { name: `onprem${n}`, pw: `onprem-pw-${n}` };
  dv.addUser(cloud.name, cloud.pw, m365);
  dv.addUser(onprem.name, onprem.pw);
  return { cloud, onprem, imap: endpoint(dv, onprem.name, onprem.pw) };
}
function m365Endpoint(login: string, app: M365App): ConnectorEndpoint {
  return {
    url: `m365://${app.tenantId}?imap=127.0.0.1:${front.port}`,
    login,
    secret: { oauth: appTokenSource(app, settings) },
    options: { tls: { ca: idp.caPem } },
  };
}
const msgs = (count: number, size: number, from = 0, flags: string[] = ['\\Seen']): SeedMessage[] =>
  Array.from({ length: count }, (_, i) => ({
    raw: makeMessage({ size, seed: `m${from + i}` }),
    flags,
    internalDate: new Date(Date.UTC(2023, 4, 1, 0, 0, from + i)),
  }));
const xoauthLogins = (user: string) =>
  (
    readFileSync(dv.logFile, 'utf8').match(
      new RegExp(`Login: user=<${user.replace(/[.@]/g, '\\$&')}>, method=XOAUTH2`, 'g'),
    ) ?? []
  ).length;

/** Byte-exact, flags and dates kept, every message exactly once. */
async function expectExactCopy(from: { name: string; pw: string }, to: { name: string; pw: string }) {
  const src = await readMailbox(dv, from.name, from.pw);
  const dst = await readMailbox(dv, to.name, to.pw);
  expect(folderNames(dst)).toEqual(folderNames(src));
  for (const f of folderNames(src)) expect(folderKeys(dst, f)).toEqual(folderKeys(src, f));
  for (const count of hashCounts(dst).values()) expect(count).toBe(1);
}

beforeAll(async () => {
  idp = await startOidc({ domain: 'contoso.test' });
  settings = { authorityHost: idp.authorityHost, ca: idp.caPem };
  dv = await startDovecot({
    quota: true,
    oauth2: {
      introspectionUrl: idp.introspectionUrl,
      caFile: idp.caFile,
      usernameFormat: '%d',
      mechanisms: ['xoauth2'],
    },
  });
  front = await startImapProxy({ port: dv.port }, { key: idp.serverKeyPem, cert: idp.serverCertPem });
});
afterEach(() => {
  front.clearRules();
  idp.setAccessTokenTtl(3600);
});
afterAll(async () => {
  await front?.close();
  await dv?.dispose();
  await idp?.close();
});

describe('app-only copies with Microsoft 365 on one side', () => {
  it('IMAP → Microsoft 365, byte-exact, logging in with XOAUTH2 as the mailbox', async () => {
    const m = mailboxes();
    await seedImap(dv, m.onprem.name, m.onprem.pw, {
      INBOX: msgs(12, 4000),
      Archive: msgs(5, 20_000, 20, []),
      'Projects/2023': msgs(3, 1500, 40, ['\\Flagged']),
    });
    const app = await newApp();
    const r = await runPass({
      itemId: `to-m365-${n}`,
      source: m.imap,
      destination: m365Endpoint(m.cloud.name, app),
      checkpoints: createMemoryCheckpointStore(),
    });
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(20);
    await expectExactCopy(m.onprem, m.cloud);
    expect(xoauthLogins(m.cloud.name)).toBeGreaterThan(0);
  });

  it(
    'Microsoft 365 answers RFC822.SIZE with estimates: no copy is called altered, ' +
      'and a first pass into a mailbox holding the mail copies nothing twice',
    async () => {
      const m = mailboxes();
      await seedImap(dv, m.onprem.name, m.onprem.pw, {
        INBOX: msgs(8, 3000),
        Archive: [
          ...msgs(3, 5000, 20, []),
          {
            raw: makeMessage({ size: 2000, messageId: null, seed: 'no-id' }),
            flags: [],
            internalDate: new Date(Date.UTC(2023, 4, 2)),
          },
        ],
      });
      // Exchange's sizes are those of its own store, not the message's octets.
      front.rewriteAnswers((t) => t.replace(/RFC822\.SIZE (\d+)/g, (_, n: string) => `RFC822.SIZE ${Number(n) + 137}`));
      const app = await newApp();
      const to = m365Endpoint(m.cloud.name, app);
      // Each pass is another item: no checkpoint of its own.
      const pass = (itemId: string) =>
        runPass({ itemId, source: m.imap, destination: to, checkpoints: createMemoryCheckpointStore() });
      const first = await pass(`est-a-${n}`);
      expect(first.outcome, first.detail).toBe('completed');
      expect(first.stats.messagesCopied).toBe(12);
      expect(first.stats.verification?.altered).toBe(0);
      expect(first.stats.verification?.unchecked).toBe(12);
      // Another item (no checkpoint) into the same mailbox: every message is found there by its fingerprint.
      const again = await pass(`est-b-${n}`);
      expect(again.outcome, again.detail).toBe('completed');
      expect(again.stats.messagesCopied).toBe(0);
      front.rewriteAnswers(null);
      await expectExactCopy(m.onprem, m.cloud);
    },
  );

  it('Microsoft 365 → IMAP, byte-exact', async () => {
    const m = mailboxes();
    await seedImap(dv, m.cloud.name, m.cloud.pw, { INBOX: msgs(10, 3000, 0, []), 'Sent Items': msgs(6, 8000, 10) });
    const app = await newApp();
    const r = await runPass({
      itemId: `from-m365-${n}`,
      source: m365Endpoint(m.cloud.name, app),
      destination: m.imap,
      checkpoints: createMemoryCheckpointStore(),
    });
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(16);
    await expectExactCopy(m.cloud, m.onprem);
  });

  it("a wrong client secret fails the pass as the destination's credentials, in Microsoft's words", async () => {
    const m = mailboxes();
    await seedImap(dv, m.onprem.name, m.onprem.pw, { INBOX: msgs(2, 1000) });
    const app = await newApp();
    const r = await runPass({
      itemId: `bad-secret-${n}`,
      source: m.imap,
      destination: m365Endpoint(m.cloud.name, { ...app, clientSecret: 'an-old-secret' }),
      checkpoints: createMemoryCheckpointStore(),
    });
    expect(r.outcome).toBe('failed');
    expect(r.reason).toBe('DestinationCredentials');
    expect(r.detail).toMatch(/^destination: AADSTS7000215: Invalid client secret provided/);
    expect(r.detail).not.toContain('an-old-secret');
  });

  it(
    "consent withdrawn during a pass fails it as the source's " + 'credentials with AADSTS65001, copying nothing twice',
    async () => {
      const m = mailboxes();
      await seedImap(dv, m.cloud.name, m.cloud.pw, { INBOX: msgs(6, 2000), Later: msgs(6, 2000, 10) });
      const app = await newApp();
      const store = createMemoryCheckpointStore();
      const first = await runPass({
        itemId: `consent-${n}`,
        source: m365Endpoint(m.cloud.name, app),
        destination: m.imap,
        checkpoints: store,
      });
      expect(first.outcome, first.detail).toBe('completed');
      await seedImap(dv, m.cloud.name, m.cloud.pw, { INBOX: msgs(2, 2000, 50) });
      await idp.withdrawConsent(app.clientId);
      const r = await runPass({
        itemId: `consent-${n}`,
        source: m365Endpoint(m.cloud.name, app),
        destination: m.imap,
        checkpoints: store,
      });
      expect(r.outcome).toBe('failed');
      expect(r.reason).toBe('SourceCredentials');
      expect(r.detail).toMatch(/^source: AADSTS65001: The user or administrator has not consented/);
      expect([...hashCounts(await readMailbox(dv, m.onprem.name, m.onprem.pw)).values()].every((c) => c === 1)).toBe(
        true,
      );
    },
  );

  it(
    "a message above the mailbox's size limit is refused " + 'and skipped with the reason; the mailbox completes',
    async () => {
      const m = mailboxes({ maxMailSize: '100k' });
      const big = {
        raw: makeMessage({ size: 150_000, seed: 'big' }),
        flags: [],
        internalDate: new Date('2023-02-01T00:00:00Z'),
      };
      await seedImap(dv, m.onprem.name, m.onprem.pw, { INBOX: [...msgs(4, 5000), big, ...msgs(4, 5000, 10)] });
      const app = await newApp();
      const r = await runPass({
        itemId: `big-${n}`,
        source: m.imap,
        destination: m365Endpoint(m.cloud.name, app),
        checkpoints: createMemoryCheckpointStore(),
      });
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.messagesCopied).toBe(8);
      expect(r.stats.messagesSkipped).toBe(1);
      expect(r.stats.skipped).toEqual([
        expect.objectContaining({ sourceFolder: 'INBOX', uid: 5, reason: expect.stringMatching(/size/i) }),
      ]);
    },
  );

  it(
    'throttling on XOAUTH2 connections (the login and an ' + 'APPEND) is waited out: no skip, no failure, exact copy',
    async () => {
      const m = mailboxes();
      await seedImap(dv, m.onprem.name, m.onprem.pw, { INBOX: msgs(12, 3000) });
      const app = await newApp();
      const from = front.events.length;
      front.throttle({ command: 'AUTHENTICATE', nth: 1, backoffMs: 300 });
      front.throttle({ command: 'APPEND', nth: 2, backoffMs: 300 });
      const r = await runPass({
        itemId: `throttle-${n}`,
        source: m.imap,
        destination: m365Endpoint(m.cloud.name, app),
        checkpoints: createMemoryCheckpointStore(),
        options: { connections: 1, batchMessages: 4 },
      });
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.messagesSkipped).toBe(0);
      expect(
        front.events
          .slice(from)
          .filter((e) => e.throttled)
          .map((e) => e.command),
      ).toEqual(['AUTHENTICATE', 'APPEND']);
      await expectExactCopy(m.onprem, m.cloud);
    },
  );

  it('a pass that outlives its 30-second token completes with no ' +
    'failure and no duplicate: new connections take fresh tokens', async () => {
    idp.setAccessTokenTtl(30);
    const m = mailboxes();
    await seedImap(dv, m.onprem.name, m.onprem.pw, { INBOX: msgs(12, 2000) });
    const app = await newApp();
    const dest = m365Endpoint(m.cloud.name, app);
    const source = (dest.secret as { oauth: { token(): Promise<{ expiresOn: Date }> } }).oauth;
    const firstExpiry = (await source.token()).expiresOn.getTime();
    const issuedBefore = idp.issued.client_credentials ?? 0;
    // 12 messages, one per batch, 1,200 an hour (3 s each): the pass lasts over 30 s.
    let copied = 0;
    let restartedEarly = false;
    let restartedLate = false;
    const restarts: Promise<void>[] = [];
    const r = await runPass({
      itemId: `long-${n}`,
      source: m.imap,
      destination: dest,
      checkpoints: createMemoryCheckpointStore(),
      options: { connections: 1, batchMessages: 1, maxMessagesPerHour: 1200, progressIntervalMs: 200 },
      onProgress: (p) => {
        copied = p.messagesCopied;
        // Once something is copied: the provider ends the token early, and the server drops
        // every connection. The cache still holds the token: the login is refused once, renewed.
        if (copied >= 2 && !restartedEarly) {
          restartedEarly = true;
          restarts.push(idp.expireAccessTokens(app.clientId).then(() => dv.restart()));
        }
        // After the first token's life is over, the connections drop again: the new ones need a new token.
        if (Date.now() > firstExpiry && !restartedLate && restartedEarly) {
          restartedLate = true;
          restarts.push(dv.restart());
        }
      },
    });
    await Promise.all(restarts);
    expect(restartedEarly && restartedLate).toBe(true);
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(12);
    await expectExactCopy(m.onprem, m.cloud);
    // At least one renewal forced by the refusal and one by the end of the token's life.
    expect((idp.issued.client_credentials ?? 0) - issuedBefore).toBeGreaterThanOrEqual(2);
    expect(xoauthLogins(m.cloud.name)).toBeGreaterThanOrEqual(3);
  }, 180_000);
});
