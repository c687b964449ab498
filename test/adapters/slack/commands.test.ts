import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockText, fixture, repliesAt, startSlackTest, type SlackTest } from './slack-harness.ts';
import { defined } from '../../harness/defined.ts';

describe('slash commands over HTTP', () => {
  let s: SlackTest;
  beforeAll(async () => {
    s = await startSlackTest();
  });
  afterAll(async () => s?.close());

  it('acks at once and answers help ephemerally through the response_url', async () => {
    const r = await s.command('help');
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    expect(r.ms).toBeLessThan(3000);
    await s.settle();
    const [reply] = repliesAt(s.fake, r.responsePath);
    expect(defined(reply).response_type).toBe('ephemeral');
    expect(defined(reply).blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'MailFerry commands', emoji: true },
    });
    expect(blockText(defined(reply).blocks)).toContain('/migrate add');
    expect(defined(reply).text).toContain('MailFerry commands');
    // Nothing was posted in the channel.
    expect(s.fake.of('chat.postMessage')).toEqual([]);
  });

  it('refuses admin commands to a non-admin, ephemerally, and hides them from their help', async () => {
    const r = await s.command('status', { user: 'UNOBODY' });
    await s.settle();
    const [reply] = repliesAt(s.fake, r.responsePath);
    expect(defined(reply).response_type).toBe('ephemeral');
    expect(defined(reply).text).toContain('Only MailFerry admins can run "status"');
    const h = await s.command('help', { user: 'UNOBODY' });
    await s.settle();
    const help = blockText(defined(repliesAt(s.fake, h.responsePath)[0]).blocks);
    expect(help).not.toContain('/migrate add');
    expect(help).toContain('/migrate help');
  });

  it('lets anyone in an admin channel run admin commands (slack-channel grant)', async () => {
    const r = await s.command('project list', { user: 'UNOBODY', channel: 'CADMINS' });
    await s.settle();
    expect(defined(repliesAt(s.fake, r.responsePath)[0]).text).toContain('No projects yet');
  });

  it('shows a parse error with did-you-mean, ephemerally', async () => {
    const r = await s.command('stauts');
    await s.settle();
    const [reply] = repliesAt(s.fake, r.responsePath);
    expect(defined(reply).text).toContain('Did you mean "status"?');
    expect(defined(reply).blocks[0].text.text).toMatch(/^⚠️ Unknown command/);
  });

  it(
    'creates a project owned by the channel, then add ' + 'posts one anchor with Block Kit and a text fallback',
    async () => {
      const p = await s.command(
        'project create acme --source imaps://old.example:993 --destination imaps://new.example:993',
      );
      await s.settle();
      expect(defined(repliesAt(s.fake, p.responsePath)[0]).text).toContain('Project acme created');
      const project = await s.t.app.engine.getProject('acme');
      expect(project.channelRef).toBe('slack:C1');

      const before = s.fake.of('chat.postMessage').length;
      const r = await s.command('add alice@old.example alice@new.example');
      expect(r.status).toBe(200);
      await s.settle();
      const posts = s.fake.of('chat.postMessage').slice(before);
      expect(posts).toHaveLength(1);
      const anchor = defined(posts[0]).args;
      expect(anchor.channel).toBe('C1');
      expect(anchor.thread_ts).toBeUndefined();
      expect(anchor.text).toContain('1 mailbox added to acme');
      expect(anchor.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
      expect(blockText(anchor.blocks)).toContain('alice@old.example → alice@new.example');
      expect(blockText(anchor.blocks)).toContain('Asked by <@UADMIN>');
      expect(defined(posts[0]).auth).toBe('Bearer xoxb-test-token');
      // The item remembers the thread: slack:TEAM/CHANNEL/TS of the anchor.
      const item = await s.t.app.engine.getItem(project, 'alice@old.example');
      expect(item.threadRef).toBe(`slack:T1/C1/${defined(posts[0]).result!.ts}`);
      // No reply beyond the anchor: the anchor is the answer.
      expect(repliesAt(s.fake, r.responsePath)).toEqual([]);
    },
  );

  it('acks within 3 s even when the work behind the command is slow (the anchor comes later)', async () => {
    s.fake.delays.set('chat.postMessage', 3500);
    try {
      const before = s.fake.of('chat.postMessage').length;
      const r = await s.command('add ivan@old.example');
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(3000); // Slack gives up after 3 s; the post takes 3.5 s here
      await s.settle();
      expect(defined(s.fake.of('chat.postMessage').slice(before)[0]).args.text).toContain('1 mailbox added to acme');
    } finally {
      s.fake.delays.clear();
    }
  });

  it('answers ephemerally with a hint when the bot cannot post in the channel', async () => {
    await s.command('project create beta --source imaps://old.example:993 --destination imaps://new.example:993', {
      channel: 'C2',
    });
    await s.settle();
    s.fake.failNext('chat.postMessage', { error: 'not_in_channel' });
    const r = await s.command('add carol@old.example', { channel: 'C2' });
    await s.settle();
    const texts = repliesAt(s.fake, r.responsePath).map((x) => x.text);
    expect(texts.join('\n')).toContain('I could not post in this channel (not_in_channel)');
    expect(texts.join('\n')).toContain('/invite @MailFerry');
    // The add itself happened and was reported.
    expect(texts.join('\n')).toContain('1 mailbox added to beta');
  });

  it('falls back to chat.postEphemeral when the response_url is gone', async () => {
    const bad = new URLSearchParams({
      ...fixture('slash-command.json'),
      text: 'help add',
      response_url: `${s.fake.base}/gone/cmd`,
    }).toString();
    const res = await s.send(bad, 'application/x-www-form-urlencoded');
    expect(res.status).toBe(200);
    await s.settle();
    const eph = s.fake.of('chat.postEphemeral').at(-1)!;
    expect(eph.args).toMatchObject({ channel: 'C1', user: 'UADMIN' });
    expect(eph.args.blocks[0].text.text).toBe('/migrate add');
  });

  it('acks an end user clicking the secure-form button and does nothing else', async () => {
    const before = s.fake.calls.length;
    const r = await s.interact(fixture('block-actions-link.json'));
    expect(r.status).toBe(200);
    await s.settle();
    expect(s.fake.calls.slice(before).filter((c) => c.method !== 'auth.test')).toEqual([]);
  });

  it('answers a mention with a pointer to /migrate, ephemerally', async () => {
    const r = await s.send(JSON.stringify(fixture('event-app-mention.json')), 'application/json');
    expect(r.status).toBe(200);
    const call = await s.fake.waitFor(
      () => s.fake.of('chat.postEphemeral').find((c) => String(c.args.text).includes('/migrate help')),
      3000,
      'mention answer',
    );
    expect(call.args).toMatchObject({ channel: 'C1', user: 'UADMIN' });
  });
});
