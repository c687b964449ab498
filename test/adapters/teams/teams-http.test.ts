import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { serveHttp } from '../../../bot/app.ts';
import { teamsPlugin } from '../../../adapters/teams/plugin.ts';
import { itemRef } from '../../../engine/engine.ts';
import { validate } from './validate-card.ts';
import { ConnectorRecorder, channelMessage, fixture, postActivity } from './teams-harness.ts';
import { defined } from '../../harness/defined.ts';
import { joinedRegExp } from '../../harness/regex.ts';

const ADMIN_AAD = '6f1c2a3b-0000-4000-8000-00000000ada1';
const CHANNEL = '19:migrations0channel0id@thread.tacv2';
const thread = (root: string) => `${CHANNEL};messageid=${root}`;
const card = ConnectorRecorder.card;
const text = (c: any) => ConnectorRecorder.cardText(card(c) ?? c);

describe('Teams over HTTP (MAILFERRY_DEV=1, no app id)', () => {
  let t: TestApp;
  let rec: ConnectorRecorder;
  let base: string;
  const files = new Map<string, string>();
  const post = async (a: unknown) => {
    const r = await postActivity(base, a);
    await t.app.bus.idle();
    return r;
  };

  beforeAll(async () => {
    rec = await new ConnectorRecorder().start();
    rec.members = [
      {
        id: '29:alice-teams-id',
        name: 'Alice',
        email: 'alice@old.example',
        userPrincipalName: 'alice@old.example',
        aadObjectId: 'aad-alice',
      },
      {
        id: '29:carol-teams-id',
        name: 'Carol',
        email: 'carol@corp.example',
        userPrincipalName: 'Carol@Old.Example',
        aadObjectId: 'aad-carol',
      },
    ];
    t = await makeTestApp({
      MAILFERRY_DEV: '1',
      MAILFERRY_ADMINS: `teams:${ADMIN_AAD}`,
      PUBLIC_URL: 'https://mailferry.example',
      MAILFERRY_ORG_NAME: 'ACME Corp',
      MAILFERRY_SUPPORT_CONTACT: 'helpdesk@acme.example',
    });
    teamsPlugin(t.app, 'serve', {
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
      download: async (url) => files.get(url) ?? Promise.reject(new Error('404')),
    });
    const { port } = await serveHttp(t.app);
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await t?.close();
    await rec?.close();
  });

  it('logs loudly that Teams runs without authentication', () => {
    expect(t.logs.some((l) => /WARN/.test(l) && /WITHOUT AUTHENTICATION/.test(l))).toBe(true);
  });

  it('runs an @mention command from a channel and replies in the thread of that message', async () => {
    const r = await post(
      channelMessage(
        rec.url,
        'migrate project create acme --source imaps://old.example:993 --destination imaps://new.example:993',
        { id: '1000' },
      ),
    );
    expect(r.status).toBe(200);
    const replies = rec.activities((c) => c.conversationId === thread('1000'));
    expect(replies).toHaveLength(1);
    expect(defined(replies[0]).method).toBe('POST');
    // The reply answers the message that asked (POST …/activities/{replyToId}).
    expect(defined(replies[0]).activityId).toBe('1000');
    expect(text(replies[0])).toContain('Project **acme** created');
    expect(card(defined(replies[0])).version).toBe('1.5');
  });

  it('adds a mailbox from the thread; every later status change goes to that same thread, proactively', async () => {
    await post(channelMessage(rec.url, 'migrate add alice@old.example --notify chat', { id: '2000' }));
    const added = rec.activities((c) => c.conversationId === thread('2000'));
    expect(added).toHaveLength(1);
    expect(text(added[0])).toContain('1 mailbox added to acme');

    // `start` typed as a reply in the same thread: the request goes to alice in a 1:1 chat.
    const before = rec.calls.length;
    await post(channelMessage(rec.url, 'start alice@old.example', { id: '2001', root: '2000' }));
    const calls = rec.calls.slice(before);
    // Found among the team's members, 1:1 conversation created, card sent there.
    expect(
      calls.some(
        (c) => c.method === 'GET' && c.path === '/v3/conversations/19:it0team0general0id@thread.tacv2/pagedmembers',
      ),
    ).toBe(true);
    const create = calls.find((c) => c.method === 'POST' && c.path === '/v3/conversations');
    expect(create?.body.members).toEqual([{ id: '29:alice-teams-id', name: 'Alice' }]);
    expect(create?.body.isGroup).toBe(false);
    const dm = calls.find((c) => c.conversationId?.startsWith('a:dm-') && /activities/.test(c.path));
    const dmCard = card(dm!);
    expect(dmCard.version).toBe('1.5');
    const dmText = ConnectorRecorder.cardText(dmCard);
    expect(dmText).toContain('alice@old.example');
    expect(dmText).toMatch(/Asked by\n(admin|Ada Admin) \(ACME Corp\)/);
    expect(dmText).toContain('Help\nhelpdesk@acme.example');
    expect(dmText).toMatch(/Link expires\n\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    const open = dmCard.actions.find((a: any) => a.type === 'Action.OpenUrl');
    expect(open.url).toMatch(/^https:\/\/mailferry\.example\/c\/[A-Za-z0-9_-]{40,}$/);
    // Never a password field in a card.
    expect(JSON.stringify(dmCard)).not.toMatch(/Input\.|Password/);
    // The thread says which channel reached alice (a proactive post, not a reply to the command).
    const threadPosts = calls.filter(
      (c) => c.conversationId === thread('2000') && c.method === 'POST' && c.activityId !== '2001',
    );
    expect(threadPosts.map(text).join('\n')).toContain('asked alice@old.example by Teams chat');
    // And the command's own reply went to the thread too.
    expect(calls.some((c) => c.conversationId === thread('2000') && c.activityId === '2001')).toBe(true);
  });

  it('falls back to email when the user is not a member of the team, and says so in the thread', async () => {
    await post(channelMessage(rec.url, 'migrate add bob@old.example --notify chat', { id: '3000' }));
    const before = rec.calls.length;
    await post(channelMessage(rec.url, 'start bob@old.example', { id: '3001', root: '3000' }));
    const calls = rec.calls.slice(before);
    expect(calls.some((c) => c.path === '/v3/conversations' && c.method === 'POST')).toBe(false);
    const said = calls
      .filter((c) => c.conversationId === thread('3000'))
      .map(text)
      .join('\n');
    expect(said).toContain(
      'could not reach bob@old.example by Teams chat: bob@old.example is not a member of the team',
    );
    expect(said).toMatch(/by email/);
  });

  it('falls back to email when Teams refuses the 1:1 chat (app not installed for the user)', async () => {
    await post(channelMessage(rec.url, 'migrate add alice2@old.example --notify chat', { id: '3300' }));
    rec.members.push({
      id: '29:alice2',
      name: 'Alice Two',
      email: 'alice2@old.example',
      userPrincipalName: 'alice2@old.example',
      aadObjectId: 'aad-alice2',
    });
    rec.failOn('POST', '/v3/conversations', 403);
    const before = rec.calls.length;
    await post(channelMessage(rec.url, 'start alice2@old.example', { id: '3301', root: '3300' }));
    const calls = rec.calls.slice(before);
    expect(calls.filter((c) => c.path === '/v3/conversations').map((c) => c.status)).toEqual([403]);
    expect(calls.some((c) => c.conversationId?.startsWith('a:dm-'))).toBe(false);
    const said = calls
      .filter((c) => c.conversationId === thread('3300'))
      .map(text)
      .join('\n');
    expect(said).toMatch(
      joinedRegExp(
        /could not reach alice2@old\.example by Teams chat: /,
        /Teams refused the 1:1 chat, MailFerry is probably not installed for this user/,
      ),
    );
    expect(said).toMatch(/could not reach alice2@old\.example by email/);
  });

  it('matches members by user principal name too, whatever the case', async () => {
    await post(channelMessage(rec.url, 'migrate add carol@old.example --notify chat', { id: '3500' }));
    const before = rec.calls.length;
    await post(channelMessage(rec.url, 'start carol@old.example', { id: '3501', root: '3500' }));
    const create = rec.calls.slice(before).find((c) => c.method === 'POST' && c.path === '/v3/conversations');
    expect(create?.body.members[0].id).toBe('29:carol-teams-id');
  });

  it('posts Failed with the reason and Completed with figures in the thread, like Slack', async () => {
    const item = (await t.app.engine.itemById(
      (
        await t.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'alice@old.example' } })
      ).id,
    ))!;
    const ref = itemRef(item);
    const before = rec.calls.length;
    t.app.bus.emit({
      type: 'item.status',
      item: ref,
      actor: { surface: 'system', id: 'mailferry' },
      from: 'Running',
      to: 'Failed',
      reason: 'SourceCredentials',
      detail: '[AUTHENTICATIONFAILED] Invalid credentials',
    });
    t.app.bus.emit({
      type: 'item.status',
      item: ref,
      actor: { surface: 'system', id: 'mailferry' },
      from: 'Running',
      to: 'Completed',
      figures: {
        messagesFound: 1500,
        bytesFound: 9_000_000,
        messagesCopied: 1234,
        bytesCopied: 8_500_000,
        messagesPresent: 260,
        messagesSkipped: 6,
        durationMs: 185_000,
      },
    });
    await t.app.bus.idle();
    const posts = rec.calls.slice(before).filter((c) => c.conversationId === thread('2000'));
    expect(posts).toHaveLength(2);
    expect(text(posts[0])).toContain('failed: The source server refused the credentials.');
    expect(text(posts[0])).toContain('AUTHENTICATIONFAILED');
    expect(text(posts[1])).toContain('completed');
    expect(text(posts[1])).toContain('1,234 messages, 8.5 MB');
    expect(text(posts[1])).toContain('3 min 5 s');
  });

  it('edits one progress card in place (updateActivity) instead of posting a stream', async () => {
    const item = (await t.app.engine.itemById(
      (
        await t.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'alice@old.example' } })
      ).id,
    ))!;
    const before = rec.calls.length;
    for (const copied of [100, 600, 1200]) {
      t.app.bus.emit({
        type: 'item.progress',
        item: itemRef(item),
        figures: {
          messagesFound: 1500,
          bytesFound: 9e6,
          messagesCopied: copied,
          bytesCopied: copied * 5000,
          messagesPresent: 0,
          messagesSkipped: 0,
          durationMs: 1000,
        },
        folder: 'INBOX',
      });
      await t.app.bus.idle();
    }
    const calls = rec.calls.slice(before).filter((c) => c.conversationId === thread('2000'));
    expect(calls.map((c) => c.method)).toEqual(['POST', 'PUT', 'PUT']);
    expect(defined(calls[1]).activityId).toBe(defined(calls[2]).activityId);
    expect(defined(calls[1]).activityId).toMatch(/^act-\d+$/);
    expect(text(calls[2])).toContain('80% — 1,200 of 1,500 messages copied');
  });

  it('retries a post the connector throttles (429, then 503) and loses nothing', async () => {
    const item = (await t.app.engine.itemById(
      (
        await t.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'alice@old.example' } })
      ).id,
    ))!;
    const before = rec.calls.length;
    rec.failNext(1, 429, '0');
    rec.failNext(1, 503);
    t.app.bus.emit({
      type: 'item.status',
      item: itemRef(item),
      actor: { surface: 'teams', id: 'x', name: 'Ada Admin' },
      from: 'Running',
      to: 'Stopped',
    });
    await t.app.bus.idle();
    const calls = rec.calls.slice(before).filter((c) => c.conversationId === thread('2000'));
    expect(calls.map((c) => c.status)).toEqual([429, 503, 200]);
    expect(text(calls[2])).toContain('stopped by Ada Admin');
  });

  it('a post refused longer than the in-place retries waits in the outbox and is delivered later', async () => {
    const item = (await t.app.engine.itemById(
      (
        await t.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'alice@old.example' } })
      ).id,
    ))!;
    const before = rec.calls.length;
    // 2 in-place attempts × (1 + the SDK's own 3 retries) = 8 refusals, then the outbox's turn.
    const logsBefore = t.logs.length;
    rec.failNext(10, 429, '0');
    t.app.bus.emit({
      type: 'item.status',
      item: itemRef(item),
      actor: { surface: 'system', id: 'mailferry' },
      from: 'Stopped',
      to: 'Queued',
    });
    await t.app.bus.idle();
    const delivered = () =>
      rec.calls.slice(before).filter((c) => c.conversationId === thread('2000') && c.status === 200);
    for (let i = 0; i < 150 && !delivered().length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(delivered()).toHaveLength(1);
    expect(text(delivered()[0])).toContain('alice@old.example is queued');
    expect(rec.calls.slice(before).filter((c) => c.status === 429).length).toBe(10);
    // The adapter gave up in place and said so; the notifier's outbox retried it.
    expect(t.logs.slice(logsBefore).some((l) => /thread post failed; will retry/.test(l))).toBe(true);
  });

  it(
    "a post to the project's channel (digests) starts " + 'a new conversation in the channel, not in a thread',
    async () => {
      const project = await t.app.db.project.findUniqueOrThrow({ where: { name: 'acme' } });
      expect(project.channelRef).toMatch(/^teams:/);
      const before = rec.calls.length;
      expect(
        await t.app.notifier.post({
          threadRef: project.channelRef!,
          message: { kind: 'digest', text: 'Digest of acme', blocks: [{ type: 'header', text: 'Digest of acme' }] },
        }),
      ).toBe(true);
      const [p] = rec.calls.slice(before);
      expect(defined(p).conversationId).toBe(CHANNEL);
      expect(text(p)).toContain('Digest of acme');
    },
  );

  it('answers a 1:1 chat message in that chat', async () => {
    const a = fixture('personal-message', rec.url, { text: 'help' });
    const r = await post(a);
    expect(r.status).toBe(200);
    const replies = rec.activities((c) => c.conversationId === a.conversation.id);
    expect(replies).toHaveLength(1);
    expect(text(replies[0])).toContain('MailFerry commands');
    expect(text(replies[0])).toContain('project create');
  });

  it('"status" typed in a channel answers with the project status card and its actions', async () => {
    await post(channelMessage(rec.url, 'status', { id: '3900' }));
    const [reply] = rec.activities((c) => c.conversationId === thread('3900'));
    const c = card(defined(reply));
    expect(c.body[0].text).toBe('Project acme');
    expect(c.actions.map((a: any) => a.verb)).toEqual(['status.refresh', 'status.start-waiting', 'status.digest']);
  });

  it('keeps the lines of a CSV pasted under "bulk" (Teams sends HTML paragraphs)', async () => {
    const a = channelMessage(rec.url, '', { id: '3950' });
    await post({
      ...a,
      text:
        '<p><at>MailFerry</at> migrate bulk --notify ' +
        'email</p><p>hal@old.example,hal@new.example</p><p>ivy@old.example,ivy@new.example</p>',
    });
    const [reply] = rec.activities((c) => c.conversationId === thread('3950'));
    expect(text(reply)).toContain('2 mailboxes added to acme');
  });

  it('takes a CSV file sent with "bulk" in a 1:1 chat', async () => {
    files.set('https://files.example/bulk.csv', 'jon@old.example,jon@new.example\nkim@old.example,kim@new.example\n');
    const a = fixture('personal-message', rec.url, {
      id: '1764061600000',
      text: 'bulk --project acme',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.teams.file.download.info',
          name: 'bulk.csv',
          content: { downloadUrl: 'https://files.example/bulk.csv', uniqueId: 'u1', fileType: 'csv' },
        },
      ],
    });
    await post(a);
    const replies = rec.activities((c) => c.conversationId === a.conversation.id && c.activityId === '1764061600000');
    expect(text(replies[0])).toContain('2 mailboxes added to acme');
    const kim = await t.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'kim@old.example' } });
    expect(kim.threadRef).toMatch(/^teams:/);
  });

  it('refuses admin commands to people who are not admins', async () => {
    const r = await post(
      channelMessage(rec.url, 'status', {
        id: '4000',
        from: { id: '29:someone', name: 'Sam', aadObjectId: 'aad-sam' },
      }),
    );
    expect(r.status).toBe(200);
    const [reply] = rec.activities((c) => c.conversationId === thread('4000'));
    expect(text(reply)).toContain('Only MailFerry admins can run "status"');
  });

  it('welcomes the team when the bot is added (conversationUpdate) and remembers the channel', async () => {
    const a = fixture('conversation-update-bot-added', rec.url);
    const r = await post(a);
    expect(r.status).toBe(200);
    const [welcome] = rec.activities((c) => c.conversationId === '19:it0team0general0id@thread.tacv2');
    expect(text(welcome)).toContain('MailFerry is here');
    expect(card(defined(welcome)).actions.map((x: any) => x.verb)).toEqual([
      'open.project',
      'open.add',
      'open.bulk',
      'status.refresh',
    ]);
    expect(await t.app.db.chatConversation.count()).toBeGreaterThan(0);
  });

  it(
    'answers an invoke without a conversation with 400 ' + 'and the Universal Actions error shape, not a crash',
    async () => {
      const { conversation: _omit, ...invoke } = fixture('adaptive-card-action', rec.url);
      const before = await t.app.db.chatConversation.count();
      const r = await post(invoke);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({
        statusCode: 400,
        type: 'application/vnd.microsoft.error',
        value: { code: 'BadRequest', message: expect.stringContaining('conversation') },
      });
      // Nothing was stored or run for it.
      expect(await t.app.db.chatConversation.count()).toBe(before);
      expect(t.logs.some((l) => /TypeError|Cannot read properties/.test(l))).toBe(false);
      // A message without a conversation is dropped with a warning (nowhere to answer), and the bot keeps working.
      const { conversation: _c, ...message } = channelMessage(rec.url, 'status', { id: '4100' });
      const sent = rec.activities().length;
      expect((await post(message)).status).toBeLessThan(500);
      expect(rec.activities().length).toBe(sent);
      expect(t.logs.some((l) => /Teams activity without a conversation ignored/.test(l))).toBe(true);
      expect(t.logs.some((l) => /TypeError|Cannot read properties|Teams turn failed/.test(l))).toBe(false);
      expect((await post(channelMessage(rec.url, 'help', { id: '4101' }))).status).toBe(200);
      expect(rec.activities().length).toBeGreaterThan(sent);
    },
  );

  it('every card the bot sent parses with the Adaptive Cards library at 1.5 without warnings', () => {
    const cards = rec.activities().map(ConnectorRecorder.card).filter(Boolean);
    expect(cards.length).toBeGreaterThan(5);
    for (const c of cards) expect(validate(c)).toEqual([]);
  });
});
