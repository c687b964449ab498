import { describe, expect, it } from 'vitest';
import { renderText } from '../../cards/render-text.ts';
import { statusPost } from '../../cards/item-posts.ts';
import { actorText, extraDetail, itemStatusMessage } from '../../cards/status.ts';

describe('wording', () => {
  it('the failure reason is said once when the server only repeats it', () => {
    const once = statusPost({
      address: 'a@x.example',
      from: 'Running',
      to: 'Failed',
      actor: 'system',
      reasonText: 'The source server could not be reached.',
      detail: 'the source server could not be reached',
    });
    expect(once.text.match(/could not be reached/gi)).toHaveLength(1);
    expect(renderText(once)).not.toContain('Server said');
    const more = statusPost({
      address: 'a@x.example',
      from: 'Running',
      to: 'Failed',
      actor: 'system',
      reasonText: 'The source server could not be reached.',
      detail: 'connect ETIMEDOUT 10.0.0.1:993',
    });
    expect(renderText(more)).toContain('Server said: connect ETIMEDOUT 10.0.0.1:993');
    expect(extraDetail('The destination mailbox is full.', 'OVERQUOTA')).toBe('OVERQUOTA');
  });

  it('an internal failure (database, bug) is shown as an error, never as what a server said', () => {
    const m = statusPost({
      address: 'a@x.example',
      from: 'Running',
      to: 'Failed',
      actor: 'system',
      reason: 'Internal',
      reasonText: 'Internal error.',
      detail: 'internal error: the checkpoint store failed to save a checkpoint: SQLITE_IOERR',
    });
    expect(m.text).not.toMatch(/server said/i);
    expect(m.text).toContain('Error: "internal error: the checkpoint store failed');
    expect(JSON.stringify(m.blocks)).not.toMatch(/Server said/);
    const s = itemStatusMessage(
      'acme',
      {
        sourceAddress: 'a@x.example',
        destinationAddress: 'a@x.example',
        status: 'Failed',
        failureReason: 'Internal',
        reasonText: 'Internal error.',
        failureDetail: 'internal error: boom',
        messagesCopied: 0,
        bytesCopied: 0,
        messagesSkipped: 0,
        license: 'none',
        passCount: 0,
        lastPassMs: 0,
        messagesPresent: 0,
      },
      [],
    );
    expect(JSON.stringify(s)).not.toMatch(/Server said/);
    expect(JSON.stringify(s)).toContain('internal error: boom');
  });

  it('history names people, not surface:id keys', () => {
    expect(actorText('console:root')).toBe('root (console)');
    expect(actorText('slack:U012ABC (Ada Admin)')).toBe('Ada Admin (Slack)');
    expect(actorText('teams:29:1a2b')).toBe('Teams user 29:1a2b');
    expect(actorText('system:mailferry (MailFerry)')).toBe('MailFerry');
    const m = itemStatusMessage(
      'acme',
      {
        sourceAddress: 'a@x.example',
        destinationAddress: 'a@x.example',
        status: 'NotStarted',
        messagesCopied: 0,
        bytesCopied: 0,
        messagesSkipped: 0,
        license: 'none',
        passCount: 0,
        lastPassMs: 0,
        messagesPresent: 0,
      },
      [
        {
          at: new Date('2026-11-29T10:00:00Z'),
          actor: 'console:root',
          kind: 'item.added',
          fromStatus: null,
          toStatus: null,
          summary: 'added',
        },
      ],
    );
    expect(renderText(m)).toContain('added — root (console)');
  });
});
