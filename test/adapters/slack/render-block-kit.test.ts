import { describe, expect, it } from 'vitest';
import { BLOCK_KIT_LIMITS as L, escapeMrkdwn, renderBlockKit, type KitBlock } from '../../../cards/render-block-kit.ts';
import type { Message } from '../../../cards/model.ts';
import { renderText } from '../../../cards/render-text.ts';
import { errorMessage, helpCommand, helpOverview, internalErrorMessage, notAdminMessage } from '../../../cards/help.ts';
import {
  actionResultMessage,
  formLinkMessage,
  projectCreatedMessage,
  projectListMessage,
  projectUpdatedMessage,
} from '../../../cards/replies.ts';
import {
  addedMessage,
  credentialsReceivedPost,
  credentialsRefusedPost,
  credentialsRequestedPost,
  progressPost,
  statusPost,
} from '../../../cards/item-posts.ts';
import { itemStatusMessage, projectStatusMessage, type ItemView } from '../../../cards/status.ts';
import { digestMessage, digestPostedMessage, threadUpdatesPost } from '../../../cards/digest.ts';
import { credentialRequestDm } from '../../../cards/dm-request-slack.ts';
import { liveAnchorMessage } from '../../../cards/anchor-slack.ts';
import { addMailboxesModal, bulkModal, projectModal } from '../../../cards/slack-modals.ts';
import { helpEntries } from '../../../bot/commands/help.ts';
import { COMMANDS } from '../../../bot/commands/index.ts';

/** Checks a rendered message against Block Kit's structure and limits; returns the problems. */
function problems(blocks: KitBlock[]): string[] {
  const out: string[] = [];
  if (blocks.length > L.blocks) out.push(`${blocks.length} blocks`);
  const text = (t: any, max: number, where: string) => {
    if (!t || (t.type !== 'mrkdwn' && t.type !== 'plain_text')) out.push(`${where}: not a text object`);
    else if (!t.text.length) out.push(`${where}: empty text`);
    else if (t.text.length > max) out.push(`${where}: ${t.text.length} > ${max}`);
  };
  blocks.forEach((b, i) => {
    const w = `block ${i} (${b.type})`;
    switch (b.type) {
      case 'header':
        if (b.text.type !== 'plain_text') out.push(`${w}: header must be plain_text`);
        text(b.text, L.headerText, w);
        break;
      case 'section':
        if (!b.text && !b.fields) out.push(`${w}: neither text nor fields`);
        if (b.text) text(b.text, L.sectionText, w);
        if (b.fields) {
          if (b.fields.length > L.fields) out.push(`${w}: ${b.fields.length} fields`);
          b.fields.forEach((f, j) => {
            text(f, L.fieldText, `${w} field ${j}`);
          });
        }
        break;
      case 'context':
        if (!b.elements.length || b.elements.length > L.contextElements)
          out.push(`${w}: ${b.elements.length} elements`);
        b.elements.forEach((e, j) => {
          text(e, L.sectionText, `${w} element ${j}`);
        });
        break;
      case 'actions':
        if (!b.elements.length || b.elements.length > L.actionsElements)
          out.push(`${w}: ${b.elements.length} elements`);
        for (const e of b.elements) {
          if (e.type !== 'button') out.push(`${w}: not a button`);
          text(e.text, L.buttonText, `${w} button`);
          if (e.text.type !== 'plain_text') out.push(`${w}: button text must be plain_text`);
          if (!e.action_id || e.action_id.length > L.id) out.push(`${w}: action_id`);
          if (!!e.url === !!e.value) out.push(`${w}: a button has a url or a value, not both`);
          if (e.url && e.url.length > L.buttonUrl) out.push(`${w}: url too long`);
        }
        break;
      case 'divider':
        break;
      default:
        out.push(`${w}: unknown block type`);
    }
  });
  return out;
}

const figures = {
  messagesFound: 1234,
  bytesFound: 56e6,
  messagesCopied: 1230,
  bytesCopied: 56e6,
  messagesPresent: 2,
  messagesSkipped: 2,
  durationMs: 184_000,
  skippedReasons: { 'too large': 2 },
};
const item = (i: number, status = 'Failed'): ItemView => ({
  sourceAddress: `user${i}@old.example`,
  destinationAddress: `user${i}@new.example`,
  status,
  reasonText: 'The source server refused the credentials.',
  failureDetail: 'AUTHENTICATIONFAILED Invalid credentials (Failure) '.repeat(3),
  messagesCopied: i,
  bytesCopied: i * 1000,
  messagesSkipped: 0,
  license: 'consumed',
});
const many = (n: number) => Array.from({ length: n }, (_, i) => item(i));
const at = new Date('2026-11-25T09:00:00Z');

/** One of every message kind the product shows, with large inputs where lists can grow. */
const KINDS: Message[] = [
  helpOverview(helpEntries(COMMANDS), true),
  helpOverview(helpEntries(COMMANDS.filter((c) => !c.admin)), false),
  ...helpEntries(COMMANDS).map(helpCommand),
  errorMessage('Unknown command "stauts". Did you mean "status"?', 'Type `/migrate help` for the list of commands.'),
  internalErrorMessage('a1b2c3d4'),
  notAdminMessage('add'),
  projectCreatedMessage({
    name: 'acme',
    sourceUrl: 'imaps://old.example:993',
    destinationUrl: 'm365://0000-1111',
    selfService: 'both',
    licenses: 10,
  }),
  projectUpdatedMessage('acme', ['digest 0 9 * * 1-5 (Europe/Paris)', 'licenses 20']),
  projectListMessage([{ name: 'acme', sourceUrl: 'imaps://a:993', destinationUrl: 'imaps://b:993', here: true }]),
  projectListMessage([]),
  actionResultMessage(
    'started',
    many(60).map((i) => i.sourceAddress),
    ['x <y> & z'],
    'Started',
  ),
  formLinkMessage('alice@old.example', 'https://mailferry.example/c/' + 'A'.repeat(43), '2026-11-28 09:00 UTC'),
  ...['Failed', 'Completed', 'Stopped', 'Queued', 'Running', 'WaitingForUser', 'NotStarted'].map((to) =>
    statusPost({
      address: 'alice@old.example',
      from: 'Running',
      to,
      actor: 'ada',
      reasonText: 'The source server refused the credentials.',
      detail: 'NO [AUTHENTICATIONFAILED] <bad> & worse',
      figures,
    }),
  ),
  progressPost('alice@old.example', figures, 'INBOX/Projects'),
  credentialsRequestedPost(
    'alice@old.example',
    ['source'],
    [{ recipient: 'alice@old.example', via: 'Slack DM to @alice', ok: true }],
    false,
  ),
  credentialsRequestedPost(
    'bob@old.example',
    ['source', 'destination'],
    [{ recipient: 'bob@old.example', via: 'email', ok: false, why: 'email is not configured' }],
    true,
  ),
  credentialsReceivedPost('alice@old.example', ['source', 'destination'], 'alice@old.example'),
  credentialsRefusedPost('alice@old.example', 'source', 1, false, 'AUTHENTICATIONFAILED'),
  credentialsRefusedPost('alice@old.example', 'source', 3, true),
  addedMessage(
    'acme',
    many(2000).map((i) => ({ sourceAddress: i.sourceAddress, destinationAddress: i.destinationAddress })),
    many(300).map((i, n) => ({
      line: n + 1,
      input: i.sourceAddress,
      reason: 'gmail.com is a Google consumer account '.repeat(4),
    })),
  ),
  projectStatusMessage({
    name: 'acme',
    sourceUrl: 'imaps://a:993',
    destinationUrl: 'imaps://b:993',
    selfService: 'source',
    counts: { Failed: 500 },
    licenses: { total: null, used: 3, left: null },
    items: many(500),
  }),
  itemStatusMessage(
    'acme',
    { ...item(1), passCount: 3, lastPassMs: 60_000, messagesPresent: 4 },
    Array.from({ length: 400 }, (_, i) => ({
      at,
      actor: 'system:mailferry',
      kind: 'pass-failed',
      fromStatus: 'Running',
      toStatus: 'Failed',
      summary: `pass ${i} failed: ` + 'x'.repeat(120),
    })),
  ),
  itemStatusMessage('acme', { ...item(1), passCount: 1, lastPassMs: 60_000, messagesPresent: 4 }, [], {
    folders: Array.from({ length: 300 }, (_, i) => ({
      sourceFolder: `Folder ${i} `.repeat(5),
      destFolder: `Dest/${i}`,
      messagesFound: 1000,
      messagesCopied: 990,
      bytesCopied: 1e8,
      messagesPresent: 5,
      messagesSkipped: 5,
    })),
    skipped: Array.from({ length: 300 }, (_, i) => ({
      sourceFolder: 'INBOX',
      uid: i + 1,
      size: 60e6,
      reason: 'larger than the destination APPENDLIMIT (52428800 bytes) '.repeat(3),
    })),
  }),
  digestMessage({
    projectName: 'acme',
    now: at,
    since: new Date(at.getTime() - 86_400_000),
    sinceDigest: true,
    counts: { Completed: 40, Failed: 3, WaitingForUser: 7 },
    previousCounts: { Completed: 30, Failed: 1, WaitingForUser: 9 },
    waiting: Array.from({ length: 50 }, (_, i) => ({
      address: `w${i}@old.example`,
      waitingMs: 3 * 86_400_000,
      asked: 3,
      stalled: i % 2 === 0,
    })),
    failed: Array.from({ length: 50 }, (_, i) => ({
      address: `f${i}@old.example`,
      reasonText: 'The destination mailbox is full.',
      detail: 'OVERQUOTA',
    })),
    completed: Array.from({ length: 50 }, (_, i) => ({ address: `c${i}@old.example`, messages: 1000, bytes: 1e8 })),
    throughput: { messages: 40_000, bytes: 4e9, passes: 40, periodMs: 86_400_000 },
    licenses: { total: 100, used: 50, left: 50 },
  }),
  digestPostedMessage('acme'),
  threadUpdatesPost(
    Array.from({ length: 300 }, (_, i) => ({
      kind: i % 3 ? 'item-queued' : 'item-failed',
      text: `user${i}@old.example changed`,
    })),
  ),
  credentialRequestDm({
    projectName: 'acme',
    sourceAddress: 'alice@old.example',
    destinationAddress: 'alice@new.example',
    sides: ['source'],
    url: 'https://mailferry.example/c/' + 'B'.repeat(43),
    expiresAt: at,
    requestedBy: 'ada',
    resend: false,
  }),
  credentialRequestDm({
    projectName: 'acme',
    sourceAddress: 'a@x.example',
    destinationAddress: 'a@x.example',
    sides: ['source', 'destination'],
    url: 'https://mailferry.example/c/x',
    expiresAt: at,
    requestedBy: 'ada',
    resend: true,
    reminder: true,
  }),
  liveAnchorMessage(
    addedMessage('acme', [{ sourceAddress: 'a@old.example', destinationAddress: 'a@new.example' }], []),
    { counts: { Completed: 1, Running: 2 }, items: [], at },
  ),
  liveAnchorMessage(undefined, {
    counts: { Failed: 120 },
    items: many(120).map((i) => ({ address: i.sourceAddress, status: i.status })),
    at,
  }),
  {
    kind: 'huge',
    text: 'x'.repeat(50_000),
    blocks: [
      { type: 'text', text: 'y'.repeat(10_000) },
      { type: 'code', text: 'z\n'.repeat(5000) },
      { type: 'facts', facts: Array.from({ length: 35 }, (_, i) => ({ label: `f${i}`, value: 'v'.repeat(3000) })) },
      { type: 'header', text: 'H'.repeat(400) },
    ],
  },
];

describe('renderBlockKit', () => {
  it('renders every message kind within Block Kit limits, with a text fallback', () => {
    const kinds = new Set<string>();
    for (const m of KINDS) {
      const kit = renderBlockKit(m);
      kinds.add(m.kind);
      expect(problems(kit.blocks), m.kind).toEqual([]);
      expect(kit.blocks.length, m.kind).toBeGreaterThan(0);
      expect(kit.text.length, m.kind).toBeGreaterThan(0);
      expect(kit.text.length, m.kind).toBeLessThanOrEqual(L.fallbackText);
    }
    expect(kinds.size).toBeGreaterThanOrEqual(28);
  });

  it('maps each neutral block to its Block Kit form', () => {
    const kit = renderBlockKit({
      kind: 't',
      text: 'fallback',
      blocks: [
        { type: 'header', text: 'Mailbox john_doe@old.example *vip*' },
        { type: 'text', text: '✅ *alice@old.example* completed <now> & done' },
        { type: 'facts', facts: [{ label: 'Copied', value: '3 messages' }] },
        { type: 'list', items: ['one', 'two'], more: '…and 3 more' },
        { type: 'code', text: '/migrate add ADDRESS' },
        { type: 'context', text: 'hint' },
        {
          type: 'actions',
          actions: [
            { label: 'Open the secure form', url: 'https://mailferry.example/c/abc', style: 'primary' },
            { label: 'Retry', command: 'start alice@old.example' },
          ],
        },
      ],
    });
    expect(kit).toEqual({
      text: 'fallback',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Mailbox john_doe@old.example *vip*', emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: '✅ *alice@old.example* completed &lt;now&gt; &amp; done' } },
        { type: 'section', fields: [{ type: 'mrkdwn', text: '*Copied*\n3 messages' }] },
        { type: 'section', text: { type: 'mrkdwn', text: '• one\n• two' } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: '…and 3 more' }] },
        { type: 'section', text: { type: 'mrkdwn', text: '```/migrate add ADDRESS```' } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'hint' }] },
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Open the secure form', emoji: true },
              style: 'primary',
              action_id: 'mf_link_0',
              url: 'https://mailferry.example/c/abc',
            },
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Retry', emoji: true },
              action_id: 'mf_cmd_1',
              value: 'start alice@old.example',
            },
          ],
        },
      ],
    });
  });

  it('caps a long list at 50 blocks, says so, and keeps the buttons', () => {
    const m: Message = {
      kind: 'long',
      text: 't',
      blocks: [
        ...Array.from({ length: 80 }, (_, i) => ({ type: 'text' as const, text: `para ${i}` })),
        { type: 'actions', actions: [{ label: 'Go', url: 'https://x.example' }] },
      ],
    };
    const kit = renderBlockKit(m);
    expect(kit.blocks).toHaveLength(50);
    expect(kit.blocks.at(-1)!.type).toBe('actions');
    expect(JSON.stringify(kit.blocks.at(-2))).toContain('This message was shortened');
  });

  it('splits a 2,000-line list into sections under 3,000 characters', () => {
    const kit = renderBlockKit(KINDS.find((k) => k.kind === 'items-added')!);
    const sections = kit.blocks.filter((b) => b.type === 'section');
    expect(sections.length).toBeGreaterThan(1);
    expect(problems(kit.blocks)).toEqual([]);
  });

  it('a mailbox status lists its folders and the messages the destination refused, capped with how many more', () => {
    const m = itemStatusMessage('acme', { ...item(1), passCount: 2, lastPassMs: 60_000, messagesPresent: 4 }, [], {
      folders: [
        {
          sourceFolder: 'INBOX',
          destFolder: 'INBOX',
          messagesFound: 1200,
          messagesCopied: 1190,
          bytesCopied: 5e7,
          messagesPresent: 6,
          messagesSkipped: 4,
        },
        {
          sourceFolder: 'Sent',
          destFolder: 'Sent Items',
          messagesFound: 30,
          messagesCopied: 30,
          bytesCopied: 1e6,
          messagesPresent: 0,
          messagesSkipped: 0,
        },
      ],
      skipped: Array.from({ length: 30 }, (_, i) => ({
        sourceFolder: 'INBOX',
        uid: 100 + i,
        size: 60e6,
        reason: '[TOOBIG] message too large',
      })),
    });
    const text = renderText(m);
    expect(text).toMatch(/INBOX: 1,200 found, 1,190 copied \([^)]+\), 6 already there, 4 skipped/);
    expect(text).toMatch(/Sent → Sent Items: 30 found, 30 copied/);
    expect(text).toMatch(/INBOX UID 100 \([^)]+\): \[TOOBIG\] message too large/);
    expect(text).toMatch(/…and 5 more/);
    expect(text).not.toMatch(/UID 129/);
  });

  it('escapes Slack control characters', () => {
    expect(escapeMrkdwn('<@U123> & <!channel>')).toBe('&lt;@U123&gt; &amp; &lt;!channel&gt;');
  });
});

describe('modal views', () => {
  for (const view of [
    addMailboxesModal('{"c":"C1"}', { ask: 'both', notify: 'chat' }),
    bulkModal('{}'),
    projectModal('{}'),
  ]) {
    it(`${view.callback_id} is a valid modal`, () => {
      expect(view.type).toBe('modal');
      for (const t of [view.title, view.submit, view.close]) expect(t.text.length).toBeLessThanOrEqual(24);
      expect(view.blocks.length).toBeLessThanOrEqual(100);
      const ids = view.blocks.map((b: any) => b.block_id).filter(Boolean);
      expect(new Set(ids).size).toBe(ids.length);
      for (const b of view.blocks as any[]) {
        if (b.type !== 'input') continue;
        expect(b.label.type).toBe('plain_text');
        expect(b.label.text.length).toBeLessThanOrEqual(2000);
        expect(b.element.action_id).toBe('value');
        if (b.element.type === 'radio_buttons') {
          expect(b.element.options.length).toBeLessThanOrEqual(10);
          if (b.element.initial_option) expect(b.element.options).toContainEqual(b.element.initial_option);
        }
      }
      // Never a password field in a modal: credentials are typed on the secure form only.
      const inputs = (view.blocks as any[]).filter((b) => b.type === 'input');
      for (const b of inputs) expect(`${b.block_id} ${b.label.text}`).not.toMatch(/password|secret|credential value/i);
    });
  }
});
