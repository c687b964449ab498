import { describe, expect, it } from 'vitest';
import { Outreach, type SendResult, type UserNotice } from '../../bot/outreach/outreach.ts';
import { Logger } from '../../bot/log.ts';
import type { Engine } from '../../engine/engine.ts';
import type { Notifier } from '../../bot/notifier.ts';

const notice: UserNotice = {
  itemId: 'item-1',
  recipient: 'lee@old.example',
  otherAddress: 'lee@new.example',
  subject: 'Your mailbox has been copied',
  message: { kind: 'completion-notice', text: 'copied', tone: 'info', blocks: [] },
  threadRef: null,
};

describe('Outreach.close', () => {
  it('a send that fails transiently after close ends at once, without waiting for a retry', async () => {
    // The notice and requests paths never reach the engine or the notifier.
    const outreach = new Outreach({} as unknown as Engine, {} as unknown as Notifier, new Logger(() => {}, 'error'), {
      publicUrl: 'http://localhost',
      linkTtlHours: 72,
      // An hour: the old code slept this long before seeing it was closed (the test times out).
      retryMs: 3_600_000,
    });
    let tries = 0;
    let failSend: (r: SendResult) => void = () => {};
    const sending = new Promise<void>((started) => {
      outreach.addSender({
        kind: 'email',
        send: () => Promise.resolve({ ok: false, via: 'email', why: 'unused' }),
        sendNotice: () => {
          tries++;
          started();
          return new Promise<SendResult>((r) => (failSend = r));
        },
      });
    });
    const reached = outreach.notice(notice, 'email');
    await sending;
    // Stopping while the mail server still has the message: then it answers "busy, try later" (421).
    outreach.close();
    failSend({ ok: false, via: 'email', transient: true, why: '421 busy' });
    expect(await reached).toEqual([]);
    expect(tries).toBe(1);
    await outreach.idle();
  }, 10_000);
});
