import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { serveHttp } from '../../../bot/app.ts';
import { teamsPlugin } from '../../../adapters/teams/plugin.ts';
import { validate } from './validate-card.ts';
import { ConnectorRecorder, channelMessage, fixture, postActivity } from './teams-harness.ts';
import { defined } from '../../harness/defined.ts';

const _ADMIN_AAD = '6f1c2a3b-0000-4000-8000-00000000ada1';
const CHANNEL = '19:migrations0channel0id@thread.tacv2';
const cardText = ConnectorRecorder.cardText;

/** The element right under a card's input (where a refusal about that input shows). */
function afterInput(card: any, id: string): any {
  const i = card.body.findIndex((b: any) => b.id === id);
  return card.body[i + 1];
}

/** An adaptiveCard/action invoke as Teams sends it: inputs merged into action.data. */
function invoke(serviceUrl: string, verb: string, data: Record<string, unknown>, root = '5000') {
  const a = fixture('adaptive-card-action', serviceUrl);
  return {
    ...a,
    conversation: { ...a.conversation, id: `${CHANNEL};messageid=${root}` },
    value: { ...a.value, action: { ...a.value.action, verb, data } },
  };
}

describe('Teams Adaptive Card forms (Universal Actions)', () => {
  let t: TestApp;
  let rec: ConnectorRecorder;
  let base: string;
  const answered: any[] = [];
  const post = async (a: unknown) => {
    const r = await postActivity(base, a);
    if (r.body?.type === 'application/vnd.microsoft.card.adaptive') answered.push(r.body.value);
    await t.app.bus.idle();
    return r;
  };

  beforeAll(async () => {
    rec = await new ConnectorRecorder().start();
    t = await makeTestApp({ MAILFERRY_DEV: '1', MAILFERRY_ADMINS: `teams-channel:${CHANNEL}` });
    teamsPlugin(t.app, 'serve', { retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    base = `http://127.0.0.1:${(await serveHttp(t.app)).port}`;
  });
  afterAll(async () => {
    await t?.close();
    await rec?.close();
  });

  it('a bare "project create" from an admin channel opens the New project form', async () => {
    await post(channelMessage(rec.url, 'project create', { id: '4900' }));
    const [form] = rec.activities((c) => c.conversationId === `${CHANNEL};messageid=4900`);
    const card = ConnectorRecorder.card(defined(form));
    expect(card.body.map((b: any) => b.id).filter(Boolean)).toEqual([
      'name',
      'source',
      'destination',
      'selfService',
      'notify',
      'licenses',
    ]);
    expect(card.actions[0]).toMatchObject({
      type: 'Action.Execute',
      verb: 'form.project',
      fallback: { type: 'Action.Submit', data: { verb: 'form.project' } },
    });
  });

  it('New project: a refused value comes back in the card with the values kept', async () => {
    const r = await post(
      invoke(rec.url, 'form.project', {
        name: 'acme',
        source: 'ftp://old.example',
        destination: 'imaps://new.example:993',
        selfService: 'source',
        notify: 'chat',
        licenses: '',
      }),
    );
    expect(r.status).toBe(200);
    expect(r.body.statusCode).toBe(200);
    expect(r.body.type).toBe('application/vnd.microsoft.card.adaptive');
    const text = cardText(r.body.value);
    expect(text).toContain('New migration project');
    expect(r.body.value.body.find((b: any) => b.color === 'Attention').text).toMatch(/source/i);
    expect(r.body.value.body.find((b: any) => b.id === 'source').value).toBe('ftp://old.example');
    expect(r.body.value.body.find((b: any) => b.id === 'notify').value).toBe('chat');
    // The refusal sits under the input it is about, and only there.
    expect(afterInput(r.body.value, 'source')).toMatchObject({
      color: 'Attention',
      text: expect.stringContaining('unsupported scheme "ftp"'),
    });
    expect(r.body.value.body.filter((b: any) => b.color === 'Attention')).toHaveLength(1);
  });

  it(
    'New project: each refusal shows under its own input ' + '(a bad destination, a pool too large, a name taken)',
    async () => {
      await t.app.db.project.deleteMany({ where: { name: 'beta' } });
      const values = {
        name: 'beta',
        source: 'imaps://old.example:993',
        destination: 'imaps://new.example:993',
        selfService: 'source',
        notify: 'email',
        licenses: '',
      };
      const dst = await post(
        invoke(rec.url, 'form.project', { ...values, destination: 'imaps://u:p@new.example:993' }),
      );
      expect(afterInput(dst.body.value, 'destination')).toMatchObject({
        color: 'Attention',
        text: expect.stringContaining('must not contain credentials'),
      });
      const pool = await post(invoke(rec.url, 'form.project', { ...values, licenses: 2_000_000 }));
      expect(afterInput(pool.body.value, 'licenses')).toMatchObject({
        color: 'Attention',
        text: expect.stringContaining('--licenses must be a whole number'),
      });
      await post(invoke(rec.url, 'form.project', values));
      const taken = await post(invoke(rec.url, 'form.project', values));
      await t.app.db.project.delete({ where: { name: 'beta' } });
      expect(afterInput(taken.body.value, 'name')).toMatchObject({
        color: 'Attention',
        text: expect.stringContaining('already exists'),
      });
    },
  );

  it('New project: valid values create the project and the card is replaced by the result', async () => {
    const r = await post(
      invoke(rec.url, 'form.project', {
        name: 'acme',
        source: 'imaps://old.example:993',
        destination: 'imaps://new.example:993',
        selfService: 'source',
        notify: 'email',
        licenses: '25',
      }),
    );
    expect(r.body.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(cardText(r.body.value)).toContain('Project **acme** created');
    const p = await t.app.db.project.findUniqueOrThrow({ where: { name: 'acme' } });
    expect(p.licensesTotal).toBe(25);
  });

  it('Add mailboxes: validation errors are shown in the card', async () => {
    const empty = await post(invoke(rec.url, 'form.add', { project: '', addresses: '', ask: '', notify: '' }));
    expect(cardText(empty.body.value)).toContain('Enter at least one mailbox address.');
    const gmail = await post(
      invoke(rec.url, 'form.add', { project: '', addresses: 'someone@gmail.com', ask: 'source', notify: 'email' }),
    );
    const error = gmail.body.value.body.find((b: any) => b.color === 'Attention');
    expect(error.text).toMatch(/gmail|Google/i);
    expect(afterInput(gmail.body.value, 'addresses')).toBe(error);
    expect(gmail.body.value.body.find((b: any) => b.id === 'addresses').value).toBe('someone@gmail.com');
    expect(gmail.body.value.body.find((b: any) => b.id === 'ask').value).toBe('source');
  });

  it('Add mailboxes: several lines become a bulk add in the thread of the card', async () => {
    const r = await post(
      invoke(rec.url, 'form.add', {
        project: '',
        addresses: 'dora@old.example\neve@old.example, eve.new@new.example',
        ask: 'both',
        notify: 'email',
      }),
    );
    expect(cardText(r.body.value)).toContain('2 mailboxes added to acme');
    const eve = await t.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'eve@old.example' } });
    expect(eve.destinationAddress).toBe('eve.new@new.example');
    expect(eve.ask).toBe('both');
    // The items belong to the thread where the card was.
    expect(eve.threadRef).toMatch(/^teams:/);
    const conv = JSON.parse(
      (await t.app.db.chatConversation.findUniqueOrThrow({ where: { id: eve.threadRef!.slice(6) } })).reference,
    );
    expect(conv.ref.conversation.id).toBe(`${CHANNEL};messageid=5000`);
    expect(conv.ref.serviceUrl).toBe(rec.url);
  });

  it('Bulk add: pasted CSV lines, refused lines listed', async () => {
    const r = await post(
      invoke(rec.url, 'form.bulk', {
        project: 'acme',
        csv: 'fay@old.example,fay@new.example\nnot an address\ngus@old.example,gus@new.example,gus.login',
        ask: '',
        notify: '',
      }),
    );
    const text = cardText(r.body.value);
    expect(text).toContain('2 mailboxes added to acme; 1 line refused');
    expect(text).toMatch(/line 2/);
  });

  it('the status card shows the counts and actions, and Refresh replaces it in place', async () => {
    const r = await post(invoke(rec.url, 'status.refresh', { project: 'acme' }));
    const card = r.body.value;
    expect(card.version).toBe('1.5');
    expect(card.body[0].text).toBe('Project acme');
    const counts = card.body.find((b: any) => b.type === 'ColumnSet');
    expect(cardText(counts)).toMatch(/Not started\n4/);
    expect(card.actions.map((a: any) => [a.type, a.verb, a.data])).toEqual([
      ['Action.Execute', 'status.refresh', { project: 'acme' }],
      ['Action.Execute', 'status.start-waiting', { project: 'acme' }],
      ['Action.Execute', 'status.digest', { project: 'acme' }],
    ]);
    expect(cardText(card)).toContain('eve@old.example → eve.new@new.example');
  });

  it('Start waiting and Digest now report their outcome on the refreshed card', async () => {
    const s = await post(invoke(rec.url, 'status.start-waiting', { project: 'acme' }));
    expect(s.body.value.body[0].text).toBe('Project acme');
    expect(s.body.value.body[1].text).toMatch(/mailbox/i);
    const d = await post(invoke(rec.url, 'status.digest', { project: 'acme' }));
    expect(d.body.value.body[0].text).toBe('Project acme');
    // Without a digest service the refusal shows on the card, in red.
    const notice = d.body.value.body[1];
    expect(notice.text.length).toBeGreaterThan(0);
  });

  it('the Action.Submit fallback arrives as a message with value and updates the card in place', async () => {
    const a = channelMessage(rec.url, '', { id: '6001', root: '6000' });
    const before = rec.calls.length;
    const r = await post({
      ...a,
      text: undefined,
      entities: [],
      replyToId: 'card-activity-1',
      value: { verb: 'status.refresh', project: 'acme' },
    });
    expect(r.status).toBe(200);
    const [put] = rec.calls.slice(before).filter((c) => c.method === 'PUT');
    expect(defined(put).activityId).toBe('card-activity-1');
    expect(defined(put).conversationId).toBe(`${CHANNEL};messageid=6000`);
    expect(cardText(ConnectorRecorder.card(defined(put)))).toContain('Project acme');
  });

  it('opening a form from the welcome card replaces it with the form', async () => {
    const r = await post(invoke(rec.url, 'open.bulk', {}));
    expect(r.body.value.body.find((b: any) => b.id === 'csv')).toBeTruthy();
  });

  it('every card the bot sent or answered with parses with the Adaptive Cards library at 1.5 without warnings', () => {
    const cards = [...rec.activities().map(ConnectorRecorder.card).filter(Boolean), ...answered];
    expect(cards.length).toBeGreaterThan(5);
    for (const c of cards) expect(validate(c)).toEqual([]);
  });
});
