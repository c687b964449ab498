import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, repliesAt, blockText, startSlackTest, type SlackTest } from './slack-harness.ts';

/**
 * The end user answers in the Slack DM: beside the form link, "Start now", "Remind me
 * tomorrow" and "This mailbox is not mine / not used", each a button whose value names the
 * item by an id bound to the person the DM went to. Clicks arrive as signed `block_actions`
 * payloads over HTTP; the answer is posted in the admin's thread.
 */
describe('Slack DM answers (signed block_actions over HTTP)', () => {
  let s: SlackTest;
  let responses = 0;

  const dmOf = (channel: string) =>
    s.fake
      .of('chat.postMessage')
      .filter((c) => c.args.channel === channel)
      .at(-1)!;
  const buttonsOf = (channel: string): any[] =>
    dmOf(channel).args.blocks.find((b: any) => b.type === 'actions').elements;
  const button = (channel: string, label: string) => buttonsOf(channel).find((e: any) => e.text.text === label);
  const threadOf = async (address: string) => {
    const project = await s.t.app.engine.getProject('acme');
    const item = await s.t.app.engine.getItem(project, address);
    const ts = item.threadRef!.split('/').at(-1)!;
    return {
      item,
      texts: () =>
        s.fake
          .of('chat.postMessage')
          .filter((c) => c.args.thread_ts === ts)
          .map((c) => c.args.text as string),
    };
  };
  /** A click on `element` by `user` in DM `channel`, as Slack posts it; returns the ephemeral answer. */
  const click = async (element: any, user: { id: string; name: string }, channel: string) => {
    const responsePath = `/response/choice${++responses}`;
    const base = fixture('block-actions-button.json');
    const r = await s.interact({
      ...base,
      user: { ...base.user, id: user.id, username: user.name, name: user.name },
      channel: { id: channel, name: 'directmessage' },
      container: { ...base.container, channel_id: channel },
      response_url: `${s.fake.base}${responsePath}`,
      actions: [{ ...base.actions[0], action_id: element.action_id, text: element.text, value: element.value }],
    });
    expect(r.status).toBe(200);
    await s.settle();
    return repliesAt(s.fake, responsePath)
      .map((b) => blockText(b.blocks) + '\n' + b.text)
      .join('\n');
  };

  beforeAll(async () => {
    s = await startSlackTest();
    s.fake.users.set('alice@old.example', { id: 'UALICE', name: 'alice' });
    s.fake.users.set('bob@old.example', { id: 'UBOB', name: 'bob' });
    // Slack runs commands as they come, side by side: each one is let finish before the next.
    for (const line of [
      'project create acme --source imaps://old.example:993 ' +
        '--destination imaps://new.example:993 --notify chat --licenses 5',
      'add alice@old.example alice@new.example --ask source',
      'add bob@old.example bob@new.example --ask source',
      'start alice@old.example',
      'start bob@old.example',
    ]) {
      await s.command(line);
      await s.settle();
    }
  });
  afterAll(async () => {
    await s?.close();
  });

  it('the DM carries the link and three answer buttons; no value holds the link, a token or an address', () => {
    const elements = buttonsOf('DALICE');
    expect(elements.map((e: any) => e.text.text)).toEqual([
      'Open the secure form',
      'Start now',
      'Remind me tomorrow',
      'This mailbox is not mine / not used',
    ]);
    const link: string = elements[0].url;
    expect(link).toMatch(/^https:\/\/mailferry\.example\/c\/[A-Za-z0-9_-]{40,}$/);
    const token = link.split('/c/')[1];
    for (const e of elements.slice(1)) {
      expect(e.url).toBeUndefined();
      expect(e.value).toMatch(/^answer [0-9a-f-]{36}\.[A-Za-z0-9_-]{22} (now|tomorrow|not-mine)$/);
      expect(e.value).not.toContain(token);
      expect(e.value).not.toContain('@');
    }
    // Bound per person: bob's DM names his own item with his own id.
    expect(button('DBOB', 'Start now').value.split(' ')[1]).not.toBe(button('DALICE', 'Start now').value.split(' ')[1]);
  });

  it('"Remind me tomorrow" moves the reminder a day on and is posted in the admin\'s thread', async () => {
    const { item, texts } = await threadOf('alice@old.example');
    const answer = await click(button('DALICE', 'Remind me tomorrow'), { id: 'UALICE', name: 'alice' }, 'DALICE');
    expect(answer).toMatch(/We will remind you on \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    const row = await s.t.app.db.itemReminder.findUniqueOrThrow({ where: { itemId: item.id } });
    const note = (await s.t.app.engine.history(item.id)).filter((h) => h.kind === 'user.choice').at(-1)!;
    expect(note.detail.choice).toBe('tomorrow');
    expect(row.nextAt!.toISOString()).toBe(note.detail.remindAt);
    expect(row.nextAt!.getTime() - row.anchorAt.getTime()).toBe(86_400_000);
    expect(texts().join('\n')).toMatch(
      /alice@old\.example\* chose: remind me tomorrow\. The next reminder goes out \d{4}-\d\d-\d\d/,
    );
    expect((await s.t.app.engine.itemById(item.id))!.status).toBe('WaitingForUser');
  });

  it('a button clicked by anyone but the person the DM went to is refused and changes nothing', async () => {
    const { item, texts } = await threadOf('alice@old.example');
    const before = { history: (await s.t.app.engine.history(item.id)).length, thread: texts().length };
    const answer = await click(
      button('DALICE', 'This mailbox is not mine / not used'),
      { id: 'UBOB', name: 'bob' },
      'DBOB',
    );
    expect(answer).toContain('This button answers only for the person the message was sent to');
    expect((await s.t.app.engine.itemById(item.id))!.status).toBe('WaitingForUser');
    expect((await s.t.app.engine.history(item.id)).length).toBe(before.history);
    expect(texts().length).toBe(before.thread);
    // A forged value (another item's id with a made-up tag) is refused the same way.
    const forged = { ...button('DBOB', 'Start now'), value: `answer ${item.id}.AAAAAAAAAAAAAAAAAAAAAA now` };
    expect(await click(forged, { id: 'UALICE', name: 'alice' }, 'DALICE')).toContain(
      'This button answers only for the person',
    );
  });

  it('"Start now" is posted in the thread; the mailbox still moves only once the credentials are in', async () => {
    const { item, texts } = await threadOf('alice@old.example');
    const answer = await click(button('DALICE', 'Start now'), { id: 'UALICE', name: 'alice' }, 'DALICE');
    expect(answer).toContain('moves as soon as you have entered your credentials on the secure form');
    expect(texts().join('\n')).toContain('alice@old.example* chose: start now (as soon as the credentials are in).');
    expect((await s.t.app.engine.itemById(item.id))!.status).toBe('WaitingForUser');
  });

  it(
    '"This mailbox is not mine / not used": reported in the ' +
      'thread, Stopped with the note, license back, link dead',
    async () => {
      const { item, texts } = await threadOf('bob@old.example');
      const before = await s.t.app.engine.getProject('acme');
      const answer = await click(
        button('DBOB', 'This mailbox is not mine / not used'),
        { id: 'UBOB', name: 'bob' },
        'DBOB',
      );
      expect(answer).toContain('bob@old.example will not be migrated; your IT team has been told');
      const after = (await s.t.app.engine.itemById(item.id))!;
      expect(after.status).toBe('Stopped');
      expect(after.license).toBe('none');
      expect((await s.t.app.engine.getProject('acme')).licensesUsed).toBe(before.licensesUsed - 1);
      expect(await s.t.app.db.credentialLink.count({ where: { itemId: item.id, revokedAt: null, usedAt: null } })).toBe(
        0,
      );
      const stop = (await s.t.app.engine.history(item.id)).find((h) => h.toStatus === 'Stopped')!;
      expect(stop.detail.note).toBe('the end user says this mailbox is not theirs or not used');
      expect(stop.actor).toContain('UBOB');
      expect(texts().join('\n')).toContain(
        'bob@old.example* chose: this mailbox is not mine / not used. Stopped, not ' +
          'migrated: its license is back in the pool and its link no longer works.',
      );
      // A later click changes nothing.
      expect(await click(button('DBOB', 'Start now'), { id: 'UBOB', name: 'bob' }, 'DBOB')).toContain(
        'Nothing to change: this migration is no longer waiting for you.',
      );
    },
  );

  it(
    'with a copy window the DM offers "Tonight": posted ' + "in the admin's thread with the window's opening",
    async () => {
      s.fake.users.set('dave@old.example', { id: 'UDAVE', name: 'dave' });
      for (const line of [
        'project set acme --window "22:00-06:00" --tz Europe/Berlin',
        'add dave@old.example dave@new.example --ask source',
        'start dave@old.example',
      ]) {
        await s.command(line);
        await s.settle();
      }
      expect(buttonsOf('DDAVE').map((e: any) => e.text.text)).toEqual([
        'Open the secure form',
        'Start now',
        'Tonight',
        'Remind me tomorrow',
        'This mailbox is not mine / not used',
      ]);
      const tonight = button('DDAVE', 'Tonight');
      expect(tonight.value).toMatch(/^answer [0-9a-f-]{36}\.[A-Za-z0-9_-]{22} tonight$/);
      expect(tonight.value).not.toContain(buttonsOf('DDAVE')[0].url.split('/c/')[1]);
      expect(await click(tonight, { id: 'UALICE', name: 'alice' }, 'DALICE')).toContain(
        'This button answers only for the person',
      );
      const { item, texts } = await threadOf('dave@old.example');
      const answer = await click(tonight, { id: 'UDAVE', name: 'dave' }, 'DDAVE');
      expect(answer).toMatch(
        /Your mailbox dave@old\.example is copied tonight, from \d{4}-\d\d-\d\d \d\d:\d\d Europe\/Berlin/,
      );
      expect(texts().join('\n')).toMatch(
        /dave@old\.example\* chose: tonight, \d{4}-\d\d-\d\d \d\d:\d\d Europe\/Berlin \(/,
      );
      const note = (await s.t.app.engine.history(item.id)).filter((h) => h.kind === 'user.choice').at(-1)!;
      expect(note.detail.choice).toBe('tonight');
      expect(note.actor).toContain('UDAVE');
      expect((await s.t.app.engine.itemById(item.id))!.status).toBe('WaitingForUser');
    },
  );

  it('answers are not in help, and no log line holds a link or a token', async () => {
    const r = await s.command('help', { user: 'UALICE' });
    await s.settle();
    const help = repliesAt(s.fake, r.responsePath)
      .map((b) => blockText(b.blocks))
      .join('\n');
    expect(help).not.toMatch(/\banswer\b/);
    const link: string = buttonsOf('DALICE')[0].url;
    expect(s.t.logs.join('\n')).not.toContain(link.split('/c/')[1]);
    expect(s.t.logs.join('\n')).not.toMatch(/\/c\/[A-Za-z0-9_-]{20,}/);
  });
});
