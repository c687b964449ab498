import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { serveHttp } from '../../../bot/app.ts';
import { teamsPlugin } from '../../../adapters/teams/plugin.ts';
import type { TeamsSurface } from '../../../adapters/teams/install-teams.ts';
import { validate } from './validate-card.ts';
import { ConnectorRecorder, channelMessage, fixture, postActivity } from './teams-harness.ts';
import { defined } from '../../harness/defined.ts';

const CHANNEL = '19:migrations0channel0id@thread.tacv2';
const ROOT = '7000';
const cardText = ConnectorRecorder.cardText;

/** A bulk form's adaptiveCard/action invoke, with the activity id Teams repeats when it retries. */
function bulkInvoke(serviceUrl: string, id: string, csv: string) {
  const a = fixture('adaptive-card-action', serviceUrl);
  return {
    ...a,
    id,
    conversation: { ...a.conversation, id: `${CHANNEL};messageid=${ROOT}` },
    value: {
      ...a.value,
      action: { ...a.value.action, verb: 'form.bulk', data: { project: 'acme', csv, ask: '', notify: '' } },
    },
  };
}

// Teams gives an invoke about 5 s and then retries it. A large bulk form is answered
// "Adding…" at once, the mailboxes are added in the background and the result is posted
// to the conversation; a retried invoke (same activity id) adds nothing twice. Real Bot
// Framework HTTP in, a connector recorder out.
describe('Teams bulk form: answered at once, added in the background, once', () => {
  let t: TestApp;
  let rec: ConnectorRecorder;
  let base: string;
  let teams: TeamsSurface;
  const csv = Array.from({ length: 2000 }, (_, i) => `user${i}@old.example,user${i}@new.example`).join('\n');
  const count = async () => t.app.db.item.count({ where: { project: { name: 'acme' } } });
  const resultPosts = () =>
    rec.activities(
      (c) =>
        c.conversationId === `${CHANNEL};messageid=${ROOT}` &&
        /2,000 mailboxes added/.test(cardText(ConnectorRecorder.card(c) ?? {})),
    );

  beforeAll(async () => {
    rec = await new ConnectorRecorder().start();
    t = await makeTestApp({ MAILFERRY_DEV: '1', MAILFERRY_ADMINS: `teams-channel:${CHANNEL}` });
    teams = teamsPlugin(t.app, 'serve', { retry: { baseDelayMs: 5, maxDelayMs: 20 } })!;
    base = `http://127.0.0.1:${(await serveHttp(t.app)).port}`;
    await postActivity(
      base,
      channelMessage(
        rec.url,
        'migrate project create acme --source imaps://old.example:993 --destination imaps://new.example:993',
        { id: '6900' },
      ),
    );
  });
  afterAll(async () => {
    await t?.close();
    await rec?.close();
  });

  it('2,000 lines: the invoke is answered "Adding 2,000 ' +
    'mailboxes…" and the result is posted to the conversation', async () => {
    const r = await postActivity(base, bulkInvoke(rec.url, 'bulk-1', csv));
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(cardText(r.body.value)).toContain('Adding 2,000 mailboxes to acme…');
    expect(validate(r.body.value)).toEqual([]);
    expect(JSON.stringify(r).length).toBeLessThan(28_000);
    await teams.bot.idle();
    await t.app.bus.idle();
    expect(await count()).toBe(2000);
    const posts = resultPosts();
    expect(posts).toHaveLength(1);
    const card = ConnectorRecorder.card(defined(posts[0]));
    expect(validate(card)).toEqual([]);
    expect(JSON.stringify(defined(posts[0]).body).length).toBeLessThan(28_000);
  }, 120_000);

  it('a retried invoke (same activity id) gets the same answer and adds nothing', async () => {
    const again = await postActivity(base, bulkInvoke(rec.url, 'bulk-1', csv));
    expect(again.status).toBe(200);
    expect(cardText(again.body.value)).toContain('Adding 2,000 mailboxes to acme…');
    await teams.bot.idle();
    expect(await count()).toBe(2000);
    expect(resultPosts()).toHaveLength(1);
  }, 60_000);

  it('a retry that reaches a process without the first answer is recognised by the shared ledger', async () => {
    (teams.bot as unknown as { bulkAnswers: Map<string, unknown> }).bulkAnswers.clear();
    const again = await postActivity(base, bulkInvoke(rec.url, 'bulk-1', csv));
    expect(cardText(again.body.value)).toContain('Adding 2,000 mailboxes to acme…');
    await teams.bot.idle();
    expect(await count()).toBe(2000);
    expect(t.logs.some((l) => /Teams bulk form received again \(a retry\); not run twice/.test(l))).toBe(true);
  }, 60_000);

  it('a small bulk (another activity id) is added within the ' +
    'invoke; lines already in the project are refused, not doubled', async () => {
    const r = await postActivity(
      base,
      bulkInvoke(rec.url, 'bulk-2', csv.split('\n').slice(0, 3).join('\n') + '\nnew1@old.example,new1@new.example'),
    );
    expect(r.status).toBe(200);
    expect(cardText(r.body.value)).toMatch(/1 mailbox added to acme; 3 lines refused/);
    expect(await count()).toBe(2001);
  }, 60_000);
});
