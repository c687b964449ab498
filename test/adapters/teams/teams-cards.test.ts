import { describe, expect, it } from 'vitest';
import { renderAdaptiveCard } from '../../../cards/render-adaptive-card.ts';
import {
  addMailboxesCard,
  bulkAddCard,
  credentialRequestCard,
  newProjectCard,
  projectStatusCard,
  welcomeCard,
  TEMPLATES,
  loadTemplate,
} from '../../../cards/teams/teams-cards.ts';
import { projectStatusMessage, itemStatusMessage } from '../../../cards/status.ts';
import { addedMessage, credentialsRequestedPost, progressPost, statusPost } from '../../../cards/item-posts.ts';
import { helpOverview, helpCommand, errorMessage, internalErrorMessage, notAdminMessage } from '../../../cards/help.ts';
import {
  formLinkMessage,
  projectCreatedMessage,
  projectListMessage,
  actionResultMessage,
} from '../../../cards/replies.ts';
import { helpEntries } from '../../../bot/commands/help.ts';
import { COMMANDS } from '../../../bot/commands/index.ts';
import { validate, validateSchema } from './validate-card.ts';
import { USER_MESSAGES } from '../../cards/user-messages.ts';
import { defined } from '../../harness/defined.ts';

const project = {
  name: 'acme',
  sourceUrl: 'imaps://old.example:993',
  destinationUrl: 'imaps://new.example:993',
  selfService: 'source',
  counts: { NotStarted: 1, WaitingForUser: 1, Completed: 1, Failed: 1 },
  licenses: { total: 10, used: 2, left: 8 },
  items: [
    {
      sourceAddress: 'a@old.example',
      destinationAddress: 'a@new.example',
      status: 'Completed',
      messagesCopied: 1200,
      bytesCopied: 5e6,
      messagesSkipped: 0,
      license: 'consumed',
    },
    {
      sourceAddress: 'b@old.example',
      destinationAddress: 'b@old.example',
      status: 'Failed',
      reasonText: 'The source server refused the credentials.',
      failureDetail: 'AUTHENTICATIONFAILED',
      messagesCopied: 0,
      bytesCopied: 0,
      messagesSkipped: 0,
      license: 'reserved',
    },
  ],
};
const figures = {
  messagesFound: 10,
  bytesFound: 100,
  messagesCopied: 8,
  bytesCopied: 80,
  messagesPresent: 1,
  messagesSkipped: 1,
  durationMs: 5000,
  skippedReasons: { 'too large': 1 },
};
const entries = helpEntries(COMMANDS);

const cards: Record<string, any> = {
  'form: add mailboxes': addMailboxesCard(),
  'form: add mailboxes with error': addMailboxesCard({
    project: 'acme',
    addresses: 'x@gmail.com',
    ask: 'both',
    notify: 'chat',
    error: 'Google consumer accounts cannot be migrated.',
  }),
  'form: bulk add': bulkAddCard({ csv: 'a,b', error: 'bad' }),
  'form: new project': newProjectCard(),
  'form: new project with error': newProjectCard({
    name: 'x',
    source: 'ftp://x',
    destination: 'imaps://y',
    error: 'bad URL',
    licenses: '3',
  }),
  'status card': projectStatusCard(projectStatusMessage(project), {
    notice: 'Started 1 mailbox.',
    noticeTone: 'success',
  }),
  'status card, empty project': projectStatusCard(projectStatusMessage({ ...project, counts: {}, items: [] })),
  'credential request': credentialRequestCard({
    projectName: 'acme',
    sourceAddress: 'a@old.example',
    destinationAddress: 'a@new.example',
    sides: ['source', 'destination'],
    requestedBy: 'Ada Admin',
    expiresAt: new Date('2026-11-28T09:00:00Z'),
    url: 'https://mailferry.example/c/abc',
    reminder: true,
  }),
  'credential request with answer buttons': credentialRequestCard({
    projectName: 'acme',
    sourceAddress: 'a@old.example',
    destinationAddress: 'a@new.example',
    sides: ['source'],
    expiresAt: new Date('2026-11-28T09:00:00Z'),
    url: 'https://mailferry.example/c/abc',
    choiceId: '00000000-0000-4000-8000-000000000000.AAAAAAAAAAAAAAAAAAAAAA',
  }),
  ...Object.fromEntries(Object.entries(USER_MESSAGES).map(([name, m]) => [`message: ${name}`, renderAdaptiveCard(m)])),
  welcome: welcomeCard(['@MailFerry migrate help']),
  'message: help': renderAdaptiveCard(helpOverview(entries, true)),
  'message: help command': renderAdaptiveCard(helpCommand(defined(entries[0]))),
  'message: error': renderAdaptiveCard(errorMessage('Nope.', 'Usage: x')),
  'message: internal error': renderAdaptiveCard(internalErrorMessage('abcd1234')),
  'message: not admin': renderAdaptiveCard(notAdminMessage('add')),
  'message: project created': renderAdaptiveCard(
    projectCreatedMessage({
      name: 'acme',
      sourceUrl: 'imaps://a',
      destinationUrl: 'imaps://b',
      selfService: 'both',
      licenses: null,
    }),
  ),
  'message: project list': renderAdaptiveCard(
    projectListMessage([{ name: 'acme', sourceUrl: 'imaps://a', destinationUrl: 'imaps://b', here: true }]),
  ),
  'message: action result': renderAdaptiveCard(actionResultMessage('started', ['a', 'b'], ['c refused'], 'Started')),
  'message: form link': renderAdaptiveCard(
    formLinkMessage('a@old.example', 'https://mailferry.example/c/abc', '2026-11-28 09:00 UTC'),
  ),
  'message: item status': renderAdaptiveCard(
    itemStatusMessage('acme', { ...defined(project.items[1]), passCount: 1, lastPassMs: 1000, messagesPresent: 0 }, [
      { at: new Date(), actor: 'teams:x', kind: 'item.added', fromStatus: null, toStatus: null, summary: 'added' },
    ]),
  ),
  'post: items added': renderAdaptiveCard(
    addedMessage(
      'acme',
      [{ sourceAddress: 'a@x.example', destinationAddress: 'b@y.example' }],
      [{ line: 2, input: 'x', reason: 'bad' }],
    ),
  ),
  'post: waiting (requested)': renderAdaptiveCard(
    credentialsRequestedPost(
      'a@x.example',
      ['source'],
      [{ recipient: 'a@x.example', via: 'Teams chat', ok: true }],
      false,
    ),
  ),
  'post: failed': renderAdaptiveCard(
    statusPost({
      address: 'a@x.example',
      from: 'Running',
      to: 'Failed',
      actor: 'system',
      reasonText: 'The destination mailbox is full.',
      detail: 'OVERQUOTA',
      figures,
    }),
  ),
  'post: completed': renderAdaptiveCard(
    statusPost({ address: 'a@x.example', from: 'Running', to: 'Completed', actor: 'system', figures }),
  ),
  'post: progress': renderAdaptiveCard(progressPost('a@x.example', figures, 'INBOX')),
};

describe('Teams Adaptive Cards', () => {
  for (const [name, card] of Object.entries(cards))
    it(`${name}: parses at 1.5 with no warnings`, () => {
      expect(validate(card)).toEqual([]);
    });

  it('the validator is not vacuous: unknown elements, bad choices and other versions are reported', () => {
    expect(validate({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Bogus.Element' }] })).not.toEqual([]);
    expect(
      validate({
        type: 'AdaptiveCard',
        version: '1.5',
        body: [{ type: 'Input.ChoiceSet', id: 'x', choices: [{ title: 'a', value: '' }] }],
      }),
    ).not.toEqual([]);
    expect(validate({ type: 'AdaptiveCard', version: '1.6', body: [] })).not.toEqual([]);
  });

  it(
    'the official 1.5 JSON schema is checked: a string in ' +
      'Input.Number or an unknown property is reported with its path',
    () => {
      expect(
        validateSchema({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Input.Number', id: 'n', value: '3' }] }),
      ).toEqual(['schema: /body/0/value must be number']);
      expect(
        validateSchema({
          type: 'AdaptiveCard',
          version: '1.5',
          body: [{ type: 'TextBlock', text: 'x', colour: 'good' }],
        }),
      ).toEqual(['schema: /body/0 must NOT have additional properties']);
      expect(
        validateSchema({
          type: 'AdaptiveCard',
          version: '1.5',
          body: [{ type: 'Container', items: [{ type: 'Input.Text' }] }],
        }),
      ).toEqual(["schema: /body/0/items/0 must have required property 'id'"]);
      expect(
        validateSchema({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Input.Number', id: 'n', value: 3 }] }),
      ).toEqual([]);
    },
  );

  it('the New project form carries licenses as a number, or no value at all', () => {
    const licenses = (card: any) => card.body.find((e: any) => e.id === 'licenses');
    expect(licenses(newProjectCard())).not.toHaveProperty('value');
    expect(licenses(newProjectCard({ licenses: '' }))).not.toHaveProperty('value');
    expect(licenses(newProjectCard({ licenses: 'many' }))).not.toHaveProperty('value');
    expect(licenses(newProjectCard({ licenses: '3' })).value).toBe(3);
    expect(licenses(newProjectCard({ licenses: 250 })).value).toBe(250);
  });

  it('every template in cards/teams is covered and declares version 1.5', () => {
    for (const t of TEMPLATES) expect((loadTemplate(t) as any).version).toBe('1.5');
  });

  it('a command button is Action.Execute with an Action.Submit fallback carrying the verb', () => {
    const card = renderAdaptiveCard({
      kind: 'x',
      text: 'x',
      blocks: [{ type: 'actions', actions: [{ label: 'Status', command: 'status' }] }],
    });
    expect(defined(card.body[0]).actions).toEqual([
      {
        type: 'Action.Execute',
        title: 'Status',
        verb: 'command',
        data: { command: 'status' },
        fallback: { type: 'Action.Submit', title: 'Status', data: { command: 'status', verb: 'command' } },
      },
    ]);
    expect(validate(card)).toEqual([]);
  });

  it('no card ever holds a password input', () => {
    for (const card of Object.values(cards)) expect(JSON.stringify(card)).not.toMatch(/"style":"Password"/);
    const req = cards['credential request'];
    expect(JSON.stringify(req)).not.toMatch(/Input\./);
    expect(req.actions).toEqual([
      {
        type: 'Action.OpenUrl',
        title: 'Open the secure form',
        url: 'https://mailferry.example/c/abc',
        style: 'positive',
      },
    ]);
  });
});
