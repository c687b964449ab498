import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { serveHttp } from '../../../bot/app.ts';
import { teamsPlugin } from '../../../adapters/teams/plugin.ts';
import { installSelfService } from '../../../bot/form/install.ts';
import { ConnectorRecorder, channelMessage, postActivity } from './teams-harness.ts';
import { defined } from '../../harness/defined.ts';

const TEAM = '19:it0team0general0id@thread.tacv2';

describe('Teams admin grants', () => {
  let t: TestApp;
  let rec: ConnectorRecorder;
  let base: string;
  beforeAll(async () => {
    rec = await new ConnectorRecorder().start();
    // A whole team is granted with its id (the same as its General channel's id).
    t = await makeTestApp({ MAILFERRY_DEV: '1', MAILFERRY_ADMINS: `teams-channel:${TEAM},teams:29:lone-admin` });
    teamsPlugin(t.app, 'serve');
    base = `http://127.0.0.1:${(await serveHttp(t.app)).port}`;
  });
  afterAll(async () => {
    await t?.close();
    await rec?.close();
  });

  const reply = (id: string) =>
    ConnectorRecorder.cardText(ConnectorRecorder.card(defined(rec.activities((c) => c.activityId === id)[0])));

  it('anyone in a channel of a granted team may run admin commands', async () => {
    await postActivity(
      base,
      channelMessage(rec.url, 'status', {
        id: '1',
        from: { id: '29:member', name: 'Member', aadObjectId: 'aad-member' },
      }),
    );
    expect(reply('1')).toContain('There is no migration project in this channel');
  });

  it('a channel of another team is refused; a user granted by Teams user id is accepted there', async () => {
    const other = (id: string, from: any) => {
      const a = channelMessage(rec.url, 'status', { id, from });
      return {
        ...a,
        channelData: {
          ...a.channelData,
          team: { id: '19:other0team@thread.tacv2' },
          channel: { id: '19:other0channel@thread.tacv2' },
        },
      };
    };
    await postActivity(base, other('2', { id: '29:member', name: 'Member', aadObjectId: 'aad-member' }));
    expect(reply('2')).toContain('Only MailFerry admins');
    await postActivity(base, other('3', { id: '29:lone-admin', name: 'Lone', aadObjectId: 'aad-lone' }));
    expect(reply('3')).toContain('There is no migration project in this channel');
  });
});

describe('Teams private links', () => {
  let t: TestApp;
  let rec: ConnectorRecorder;
  let base: string;
  beforeAll(async () => {
    rec = await new ConnectorRecorder().start();
    t = await makeTestApp({
      MAILFERRY_DEV: '1',
      MAILFERRY_ADMINS: 'teams:29:lone-admin',
      PUBLIC_URL: 'https://mailferry.example',
    });
    installSelfService(t.app);
    teamsPlugin(t.app, 'serve');
    base = `http://127.0.0.1:${(await serveHttp(t.app)).port}`;
  });
  afterAll(async () => {
    await t?.close();
    await rec?.close();
  });

  const admin = { id: '29:lone-admin', name: 'Lone', aadObjectId: 'aad-lone' };
  const replyTo = (id: string) => JSON.stringify(rec.activities((c) => c.activityId === id));
  const personal = (id: string, text: string) => {
    const a = channelMessage(rec.url, text, { id, from: admin });
    return {
      ...a,
      conversation: { id: 'a:1on1-chat', conversationType: 'personal' },
      channelData: { tenant: a.channelData?.tenant },
    };
  };

  it(
    'project connect in a channel refuses without making ' + 'a link; in the 1:1 chat it answers with the link',
    async () => {
      await postActivity(
        base,
        channelMessage(
          rec.url,
          'project create acme --source imaps://old.example:993 --destination imaps://new.example:993',
          { id: 'p1', from: admin },
        ),
      );
      expect(replyTo('p1')).toContain('acme');
      await postActivity(base, channelMessage(rec.url, 'project connect acme --source', { id: 'p2', from: admin }));
      const refused = replyTo('p2');
      expect(refused).toContain('everyone in this conversation would see it');
      expect(refused).toContain('1:1 chat');
      expect(refused).not.toMatch(/\/c\//);
      expect(await t.app.db.projectLink.count()).toBe(0);
      await postActivity(base, personal('p3', 'project connect acme --source'));
      expect(replyTo('p3')).toMatch(/https:\/\/mailferry\.example\/c\/[A-Za-z0-9_-]{20,}/);
      expect(await t.app.db.projectLink.count()).toBe(1);
    },
  );
});
