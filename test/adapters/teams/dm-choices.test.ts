import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { serveHttp } from '../../../bot/app.ts';
import { teamsPlugin } from '../../../adapters/teams/plugin.ts';
import { validate } from './validate-card.ts';
import { ConnectorRecorder, channelMessage, fixture, postActivity } from './teams-harness.ts';

/**
 * The end user answers on the Teams 1:1 card: beside the form link, three `Action.Execute`
 * buttons. A click arrives as an `adaptiveCard/action` invoke from the user's 1:1 chat
 * (Bot Framework protocol over HTTP); only the person the card went to can answer.
 */
const ADMIN_AAD = '6f1c2a3b-0000-4000-8000-00000000ada1';
const CHANNEL = '19:migrations0channel0id@thread.tacv2';
const card = ConnectorRecorder.card;
const text = (c: any) => ConnectorRecorder.cardText(card(c) ?? c.body);
const ALICE = { id: '29:alice-teams-id', name: 'Alice', aadObjectId: 'aad-alice' };
const CAROL = { id: '29:carol-teams-id', name: 'Carol', aadObjectId: 'aad-carol' };

describe('Teams 1:1 card answers (adaptiveCard/action invokes over HTTP)', () => {
  let t: TestApp;
  let rec: ConnectorRecorder;
  let base: string;
  let seq = 0;
  const post = async (a: unknown) => {
    const r = await postActivity(base, a);
    await t.app.bus.idle();
    await t.app.notifier.idle();
    return r;
  };
  const dmCards = new Map<string, { conversation: string; card: any }>();
  /**
   * A click on `action` of a 1:1 card by `from`, as Teams sends it from the 1:1 chat; returns the replies sent there.
   */
  const click = async (action: any, from: typeof ALICE, conversation: string) => {
    const before = rec.calls.length;
    const invoke = fixture('adaptive-card-action', rec.url, {
      id: `f:choice${++seq}`,
      from,
      conversation: {
        conversationType: 'personal',
        tenantId: '72f988bf-0000-4000-8000-0000000000aa',
        id: conversation,
      },
      channelData: { tenant: { id: '72f988bf-0000-4000-8000-0000000000aa' }, source: { name: 'message' } },
      value: {
        action: { type: 'Action.Execute', title: action.title, verb: action.verb, data: action.data },
        trigger: 'manual',
      },
    });
    const r = await post(invoke);
    expect(r.status).toBe(200);
    expect(r.body.statusCode).toBe(200);
    return rec.calls
      .slice(before)
      .filter((c) => c.conversationId === conversation && c.method === 'POST')
      .map(text)
      .join('\n');
  };
  const threadText = (root: string) =>
    rec.calls
      .filter((c) => c.conversationId === `${CHANNEL};messageid=${root}`)
      .map(text)
      .join('\n');
  const action = (address: string, title: string) =>
    dmCards.get(address)!.card.actions.find((a: any) => a.title === title);

  beforeAll(async () => {
    rec = await new ConnectorRecorder().start();
    rec.members = [
      { ...ALICE, email: 'alice@old.example', userPrincipalName: 'alice@old.example' },
      { ...CAROL, email: 'carol@old.example', userPrincipalName: 'carol@old.example' },
    ];
    t = await makeTestApp({
      MAILFERRY_DEV: '1',
      MAILFERRY_ADMINS: `teams:${ADMIN_AAD}`,
      PUBLIC_URL: 'https://mailferry.example',
    });
    teamsPlugin(t.app, 'serve', { retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 } });
    base = `http://127.0.0.1:${(await serveHttp(t.app)).port}`;
    await post(
      channelMessage(
        rec.url,
        'migrate project create acme --source imaps://old.example:993 ' +
          '--destination imaps://new.example:993 --notify chat --licenses 5',
        { id: '1000' },
      ),
    );
    for (const [user, root] of [
      ['alice', '2000'],
      ['carol', '3000'],
    ] as const) {
      await post(channelMessage(rec.url, `migrate add ${user}@old.example --notify chat`, { id: root }));
      const before = rec.calls.length;
      await post(channelMessage(rec.url, `start ${user}@old.example`, { id: `${root}1`, root }));
      const dm = rec.calls
        .slice(before)
        .find((c) => c.conversationId?.startsWith('a:dm-') && /activities/.test(c.path))!;
      dmCards.set(`${user}@old.example`, { conversation: dm.conversationId!, card: card(dm) });
    }
  });
  afterAll(async () => {
    await t?.close();
    await rec?.close();
  });

  it(
    'the 1:1 card carries the link and three Universal Actions naming ' +
      'the item by an opaque id; it validates as Adaptive Card 1.5',
    () => {
      const c = dmCards.get('alice@old.example')!.card;
      expect(c.version).toBe('1.5');
      expect(validate(c)).toEqual([]);
      expect(c.actions.map((a: any) => a.title)).toEqual([
        'Open the secure form',
        'Start now',
        'Remind me tomorrow',
        'This mailbox is not mine / not used',
      ]);
      const token = c.actions[0].url.split('/c/')[1];
      for (const a of c.actions.slice(1)) {
        expect(a.type).toBe('Action.Execute');
        expect(a.verb).toBe('command');
        expect(a.data.command).toMatch(/^answer [0-9a-f-]{36}\.[A-Za-z0-9_-]{22} (now|tomorrow|not-mine)$/);
        expect(JSON.stringify(a)).not.toContain(token);
        expect(a.fallback.type).toBe('Action.Submit');
      }
    },
  );

  it(
    '"Remind me tomorrow" from alice: confirmed in her ' + "chat, posted in the admin's thread, reminder moved",
    async () => {
      const { conversation } = dmCards.get('alice@old.example')!;
      const said = await click(action('alice@old.example', 'Remind me tomorrow'), ALICE, conversation);
      expect(said).toMatch(/We will remind you on \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      expect(threadText('2000')).toMatch(
        /alice@old\.example\*\* chose: remind me tomorrow\. The next reminder goes out/,
      );
      const alice = await t.app.engine.getItem(await t.app.engine.getProject('acme'), 'alice@old.example');
      const row = await t.app.db.itemReminder.findUniqueOrThrow({ where: { itemId: alice.id } });
      expect(row.nextAt!.getTime() - row.anchorAt.getTime()).toBe(86_400_000);
    },
  );

  it("alice's button clicked by carol is refused and changes nothing", async () => {
    const said = await click(
      action('alice@old.example', 'This mailbox is not mine / not used'),
      CAROL,
      dmCards.get('carol@old.example')!.conversation,
    );
    expect(said).toContain('This button answers only for the person the message was sent to');
    const project = await t.app.engine.getProject('acme');
    expect((await t.app.engine.getItem(project, 'alice@old.example')).status).toBe('WaitingForUser');
    expect(threadText('2000')).not.toContain('not mine');
  });

  it(
    '"This mailbox is not mine / not used" from carol: ' + "Stopped, license back, reported in the admin's thread",
    async () => {
      const project = await t.app.engine.getProject('acme');
      const said = await click(
        action('carol@old.example', 'This mailbox is not mine / not used'),
        CAROL,
        dmCards.get('carol@old.example')!.conversation,
      );
      expect(said).toContain('carol@old.example will not be migrated');
      const item = await t.app.engine.getItem(project, 'carol@old.example');
      expect(item.status).toBe('Stopped');
      expect((await t.app.engine.getProject('acme')).licensesUsed).toBe(project.licensesUsed - 1);
      expect(threadText('3000')).toContain(
        'carol@old.example** chose: this mailbox is not mine / not used. Stopped, not migrated',
      );
    },
  );

  it('"Start now" from alice is posted in her thread', async () => {
    await click(action('alice@old.example', 'Start now'), ALICE, dmCards.get('alice@old.example')!.conversation);
    expect(threadText('2000')).toContain('alice@old.example** chose: start now (as soon as the credentials are in).');
  });

  it(
    'with a copy window the card offers "Tonight": the choice ' + "names the window's opening in the admin's thread",
    async () => {
      const DAVE = { id: '29:dave-teams-id', name: 'Dave', aadObjectId: 'aad-dave' };
      rec.members.push({ ...DAVE, email: 'dave@old.example', userPrincipalName: 'dave@old.example' });
      await post(
        channelMessage(rec.url, 'migrate project set acme --window "22:00-06:00" --tz Europe/Berlin', { id: '4000' }),
      );
      await post(channelMessage(rec.url, 'migrate add dave@old.example --notify chat', { id: '5000' }));
      const before = rec.calls.length;
      await post(channelMessage(rec.url, 'start dave@old.example', { id: '50001', root: '5000' }));
      const dm = rec.calls
        .slice(before)
        .find((c) => c.conversationId?.startsWith('a:dm-') && /activities/.test(c.path))!;
      const c = card(dm);
      expect(validate(c)).toEqual([]);
      expect(c.actions.map((a: any) => a.title)).toEqual([
        'Open the secure form',
        'Start now',
        'Tonight',
        'Remind me tomorrow',
        'This mailbox is not mine / not used',
      ]);
      const tonight = c.actions.find((a: any) => a.title === 'Tonight');
      expect(tonight.data.command).toMatch(/^answer [0-9a-f-]{36}\.[A-Za-z0-9_-]{22} tonight$/);
      expect(JSON.stringify(tonight)).not.toContain(c.actions[0].url.split('/c/')[1]);
      // Refused for anyone else.
      expect(await click(tonight, ALICE, dmCards.get('alice@old.example')!.conversation)).toContain(
        'This button answers only for the person',
      );
      const said = await click(tonight, DAVE, dm.conversationId!);
      // The next opening of 22:00 Berlin (or now, while the window is open).
      expect(said).toMatch(
        /Your mailbox dave@old\.example is copied tonight, from \d{4}-\d\d-\d\d \d\d:\d\d Europe\/Berlin/,
      );
      expect(threadText('5000')).toMatch(
        /dave@old\.example\*\* chose: tonight, \d{4}-\d\d-\d\d \d\d:\d\d Europe\/Berlin \(/,
      );
      const dave = await t.app.engine.getItem(await t.app.engine.getProject('acme'), 'dave@old.example');
      const note = (await t.app.engine.history(dave.id)).filter((h) => h.kind === 'user.choice').at(-1)!;
      expect(note.detail.choice).toBe('tonight');
      const startAt = new Date(note.detail.startAt as string);
      // 22:00 in Berlin, unless the window is open right now.
      const berlin = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(startAt);
      expect(berlin === '22:00' || Math.abs(startAt.getTime() - Date.now()) < 60_000).toBe(true);
      expect(dave.status).toBe('WaitingForUser');
    },
  );
});
