import { describe, expect, it } from 'vitest';
import type { Message } from '../../cards/model.ts';
import { renderBlockKit, BLOCK_KIT_LIMITS } from '../../cards/render-block-kit.ts';
import { renderText } from '../../cards/render-text.ts';
import { projectStatusMessage, projectsOverviewMessage, itemStatusMessage, type ItemView } from '../../cards/status.ts';
import { actionResultMessage, projectListMessage } from '../../cards/replies.ts';
import { addedMessage, credentialsRequestedSummaryPost, statusPost } from '../../cards/item-posts.ts';
import { RequestTally } from '../../bot/outreach/request-tally.ts';
import { digestMessage, threadUpdatesPost } from '../../cards/digest.ts';
import { liveAnchorMessage } from '../../cards/anchor-slack.ts';
import { errorMessage } from '../../cards/help.ts';
import { completionNoticeMessage } from '../../cards/completion-notice.ts';
import { addMailboxesCard, bulkAddCard, projectStatusCard } from '../../cards/teams/teams-cards.ts';
import type { AdaptiveCard } from '../../cards/render-adaptive-card.ts';
import { renderActivity } from '../../adapters/teams/render-activity.ts';
import { validate } from '../adapters/teams/validate-card.ts';
import { defined } from '../harness/defined.ts';

/**
 * Every message kind rendered at real sizes (10,000 mailboxes, 1,000 history events,
 * 2,000 CSV lines) stays within what the platforms accept: Teams refuses an activity over
 * about 28 KB serialized; Slack refuses more than 50 blocks, or blocks holding more than
 * roughly 12–13K characters in all (`msg_blocks_too_long`).
 */
const TEAMS_ACTIVITY_MAX = 28_000;
const SLACK_BLOCKS_MAX = 12_000;
const N = 10_000;

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');
const addr = (i: number) => `firstname.lastname.${i}@old-mail-server.example.org`;
const dest = (i: number) => `firstname.lastname.${i}@new-mail-server.example.com`;

/** A Teams activity as it goes out: the card plus the envelope botbuilder fills in for a channel reply. */
function teamsActivity(partial: Record<string, unknown>): Record<string, unknown> {
  return {
    ...partial,
    channelId: 'msteams',
    serviceUrl: 'https://smba.trafficmanager.net/emea/a1b2c3d4-e5f6-4789-a012-3456789abcde/',
    from: { id: '28:a1b2c3d4-e5f6-4789-a012-3456789abcde', name: 'MailFerry' },
    recipient: {
      id: '29:1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-AbCdEfGhIjKlMnOpQrStUvWxYz',
      name: 'Ada Admin',
      aadObjectId: 'a1b2c3d4-e5f6-4789-a012-3456789abcde',
    },
    conversation: {
      id: '19:0123456789abcdef0123456789abcdef@thread.tacv2;messageid=1732870000000',
      isGroup: true,
      conversationType: 'channel',
      tenantId: 'a1b2c3d4-e5f6-4789-a012-3456789abcde',
    },
    replyToId: '1732870000000',
    locale: 'en-US',
  };
}

function checkMessage(name: string, m: Message) {
  const activity = teamsActivity(renderActivity(m) as Record<string, unknown>);
  expect(bytes(activity), `${name}: Teams activity bytes`).toBeLessThanOrEqual(TEAMS_ACTIVITY_MAX);
  const kit = renderBlockKit(m);
  expect(kit.blocks.length, `${name}: Slack blocks`).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.blocks);
  expect(JSON.stringify(kit.blocks).length, `${name}: Slack blocks characters`).toBeLessThanOrEqual(SLACK_BLOCKS_MAX);
  expect(kit.text.length, `${name}: Slack text`).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.fallbackText);
  const card = defined((activity.attachments as { content: AdaptiveCard }[])[0]).content;
  expect(validate(card), `${name}: card`).toEqual([]);
}

function checkInvokeCard(name: string, card: AdaptiveCard) {
  // An Action.Execute answer carries the card as the invoke response's value.
  expect(
    bytes({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: card }),
    `${name}: invoke response bytes`,
  ).toBeLessThanOrEqual(TEAMS_ACTIVITY_MAX);
  expect(validate(card), `${name}: card`).toEqual([]);
}

const items: ItemView[] = Array.from({ length: N }, (_, i) => ({
  sourceAddress: addr(i),
  destinationAddress: dest(i),
  status: i % 3 === 0 ? 'Failed' : 'Completed',
  reasonText: i % 3 === 0 ? 'The source server refused the credentials.' : null,
  failureDetail: i % 3 === 0 ? 'AUTHENTICATIONFAILED Authentication failed for this user' : null,
  messagesCopied: 12_345,
  bytesCopied: 987_654_321,
  messagesSkipped: 0,
  license: 'consumed',
}));
const project = {
  name: 'acme-2026-migration',
  sourceUrl: 'imaps://imap.old-mail-server.example.org:993',
  destinationUrl: 'm365://a1b2c3d4-e5f6-4789-a012-3456789abcde',
  selfService: 'source',
  counts: { Completed: 6_666, Failed: 3_334 },
  licenses: { total: 20_000, used: N, left: 10_000 },
  items,
};
const history = Array.from({ length: 1_000 }, (_, i) => ({
  at: new Date(Date.UTC(2026, 10, 1) + i * 60_000),
  actor: 'slack:U012ABCDEF',
  kind: 'item.status',
  fromStatus: 'Running',
  toStatus: 'Failed',
  summary: `Running → Failed: The source server could not be reached (connect ETIMEDOUT 10.0.0.${i % 255}:993)`,
}));
const csv = Array.from({ length: 2_000 }, (_, i) => `${addr(i)},${dest(i)},login.${i},login.${i}`).join('\n');

describe('message sizes at 10,000 mailboxes, 1,000 history events, 2,000 CSV lines', () => {
  const messages: Record<string, () => Message> = {
    'project status': () => projectStatusMessage(project),
    'status overview of 1,000 projects in one channel': () =>
      projectsOverviewMessage(
        Array.from({ length: 1_000 }, (_, i) => ({
          name: `project-${i}`,
          sourceUrl: project.sourceUrl,
          destinationUrl: project.destinationUrl,
          total: N,
          counts: project.counts,
          licenses: project.licenses,
        })),
      ),
    'project list (10,000 projects)': () =>
      projectListMessage(
        items.map((_it, i) => ({
          name: `project-${i}`,
          sourceUrl: project.sourceUrl,
          destinationUrl: project.destinationUrl,
          here: i === 7,
        })),
      ),
    'status ADDRESS with 1,000 history events, 10,000 folders and refused messages': () =>
      itemStatusMessage(
        project.name,
        { ...defined(items[0]), passCount: 12, lastPassMs: 3_600_000, messagesPresent: 10 },
        history,
        {
          folders: Array.from({ length: N }, (_, i) => ({
            sourceFolder: `Archive/2019/Folder ${i}`,
            destFolder: `Archive/2019/Folder ${i}`,
            messagesFound: 100,
            messagesCopied: 90,
            bytesCopied: 1e6,
            messagesPresent: 5,
            messagesSkipped: 5,
          })),
          skipped: Array.from({ length: N }, (_, i) => ({
            sourceFolder: 'INBOX',
            uid: i,
            size: 60e6,
            reason: 'The message is larger than the destination accepts (52428800 bytes)',
          })),
        },
        1_000,
      ),
    'start with 10,000 started and 10,000 refused': () =>
      actionResultMessage(
        'start-result',
        items.map((i) => i.sourceAddress),
        items.map((i) => `${i.sourceAddress}: not started, it is Completed (use --again to copy the changes since)`),
        'Started',
      ),
    'start with 500 refusals only': () =>
      actionResultMessage(
        'start-result',
        [],
        items.slice(0, 500).map((i) => `${i.sourceAddress}: no license left in this project`),
        'Started',
      ),
    'bulk add of 10,000 lines, half refused': () =>
      addedMessage(
        project.name,
        items.slice(0, N / 2),
        items.slice(N / 2).map((i, k) => ({
          line: k + 2,
          input: `${i.sourceAddress},${i.destinationAddress}`,
          reason: `${i.sourceAddress}: Google consumer accounts (gmail.com) cannot be migrated with IMAP`,
        })),
      ),
    digest: () =>
      digestMessage({
        projectName: project.name,
        now: new Date('2026-11-29T09:00:00Z'),
        since: new Date('2026-11-28T09:00:00Z'),
        sinceDigest: true,
        counts: project.counts,
        previousCounts: { Completed: 6_000, Failed: 4_000 },
        waiting: items.map((i) => ({ address: i.sourceAddress, waitingMs: 86_400_000, asked: 3, stalled: true })),
        failed: items.map((i) => ({
          address: i.sourceAddress,
          reasonText: 'The source server refused the credentials.',
          detail: 'AUTHENTICATIONFAILED',
        })),
        completed: items.map((i) => ({ address: i.sourceAddress, messages: 12_345, bytes: 987_654_321 })),
        throughput: { messages: 1e7, bytes: 1e12, passes: N, periodMs: 86_400_000 },
        licenses: project.licenses,
      } as Parameters<typeof digestMessage>[0]),
    'thread updates (10,000 posts)': () =>
      threadUpdatesPost(
        items.map((i) => ({ kind: 'item-completed', text: `✅ ${i.sourceAddress} completed: 12,345 messages` })),
      ),
    'live anchor (10,000 items)': () =>
      liveAnchorMessage(undefined, {
        counts: project.counts,
        items: items.map((i) => ({ address: i.sourceAddress, status: i.status })),
        at: new Date(),
      }),
    'failed post with a long server answer': () =>
      statusPost({
        address: addr(1),
        from: 'Running',
        to: 'Failed',
        actor: 'system',
        reasonText: 'The destination mailbox is full.',
        detail: 'x'.repeat(50_000),
      }),
    'error with 2,000 lines': () => errorMessage(csv, 'Usage: bulk'),
    'credential requests of 10,000 users, half not delivered with long server answers': () => {
      const tally = new RequestTally();
      for (const [k, i] of items.entries())
        tally.add(
          k % 2
            ? [
                {
                  recipient: i.sourceAddress,
                  via: 'Slack DM',
                  channel: 'Slack DM',
                  ok: false,
                  why: `Slack refused: ${'x'.repeat(2_000)}`,
                },
                {
                  recipient: i.sourceAddress,
                  via: 'email',
                  channel: 'email',
                  ok: false,
                  why: `the mail server answered 452: ${'y'.repeat(2_000)}`,
                },
              ]
            : [{ recipient: i.sourceAddress, via: `Slack DM to @${'n'.repeat(500)}`, channel: 'Slack DM', ok: true }],
        );
      for (let k = 0; k < 3_000; k++) tally.addNotSent();
      return credentialsRequestedSummaryPost(tally.view('start'));
    },
    'completion notice of a mailbox with 10,000 folders': () =>
      completionNoticeMessage({
        projectName: project.name,
        sourceAddress: addr(1),
        destinationAddress: dest(1),
        destinationServer: 'Microsoft 365',
        messagesCopied: 1_234_567,
        copiedThisPass: 12,
        messagesSkipped: 3,
        folders: Array.from({ length: N }, (_, i) => `Archive/2019/Folder ${i}`),
        completedAt: new Date('2026-11-29T09:00:00Z'),
        update: true,
        organisation: { name: 'ACME Corp', support: 'helpdesk@acme.example, +1 555 0100', timeZone: 'Europe/Berlin' },
      }),
  };

  for (const [name, build] of Object.entries(messages))
    it(`${name}: within the Teams and Slack limits`, () => {
      const m = build();
      checkMessage(name, m);
      // The plain text (console) keeps the summary lines.
      expect(renderText(m).length).toBeGreaterThan(0);
    });

  it('the Teams project status card (with its actions) at 10,000 mailboxes', () => {
    const card = projectStatusCard(projectStatusMessage(project), {
      notice: 'Started 10,000 mailboxes.',
      noticeTone: 'success',
    });
    checkInvokeCard('project status card', card);
  });

  it('the bulk form shown again with 2,000 pasted CSV lines and their errors', () => {
    const errors = csv
      .split('\n')
      .map((l, i) => `line ${i + 1}: ${l.split(',')[0]}: Google consumer accounts cannot be migrated`)
      .join('\n');
    const card = bulkAddCard({ project: project.name, csv, error: errors });
    checkInvokeCard('bulk form', card);
    // Not a truncated copy that could be submitted by mistake: empty, and the error says so.
    const field = card.body.find((e) => e.id === 'csv') as Record<string, unknown>;
    expect(field.value ?? '').toBe('');
    expect(JSON.stringify(card)).toContain('The 2,000 CSV lines are not shown again');
    // A short paste is still echoed as it was.
    const small = bulkAddCard({ csv: 'a@x.example,b@y.example', error: 'bad' });
    expect((small.body.find((e) => e.id === 'csv') as Record<string, unknown>).value).toBe('a@x.example,b@y.example');
  });

  it('the add form shown again with 10,000 pasted addresses', () => {
    checkInvokeCard(
      'add form',
      addMailboxesCard({ addresses: items.map((i) => i.sourceAddress).join('\n'), error: 'bad' }),
    );
  });

  it('status ADDRESS says how many history events there are and shows the latest', () => {
    const m = itemStatusMessage(
      project.name,
      { ...defined(items[0]), passCount: 0, lastPassMs: 0, messagesPresent: 0 },
      history.slice(-20),
      undefined,
      1_000,
    );
    const text = renderText(m);
    expect(text).toContain('the latest 20 of 1,000 events; 980 earlier not shown');
    expect(text).toContain(defined(history[999]).summary);
    expect(text).not.toContain(defined(history[979]).summary);
  });

  it('the project list puts this channel first and counts the rest', () => {
    const m = projectListMessage(
      items.map((_it, i) => ({
        name: `project-${i}`,
        sourceUrl: 'imaps://a',
        destinationUrl: 'imaps://b',
        here: i === 9_999,
      })),
    );
    const text = renderText(m);
    expect(text.split('\n')[1]).toContain('project-9999');
    expect(text).toContain('…and 9,950 more (10,000 projects in all).');
  });
});
