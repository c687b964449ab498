/** The messages of scheduled starts and copy windows, as the card tests render them. */
import type { Message } from '../../cards/model.ts';
import {
  pausedPost,
  scheduledStartMessage,
  scheduledStartRefusedPost,
  startCancelledMessage,
} from '../../cards/schedule.ts';
import { statusPost } from '../../cards/item-posts.ts';
import { itemStatusMessage, projectStatusMessage, type ItemView } from '../../cards/status.ts';

const tz = 'Europe/Berlin';
const at = new Date('2026-12-05T21:00:00Z');
const opens = new Date('2026-11-30T21:00:00Z');
const item = (n: number, extra: Partial<ItemView> = {}): ItemView => ({
  sourceAddress: `user${n}@old.example`,
  destinationAddress: `user${n}@new.example`,
  status: 'NotStarted',
  messagesCopied: 0,
  bytesCopied: 0,
  messagesSkipped: 0,
  license: 'none',
  ...extra,
});

/** Named messages: each is rendered for text, Block Kit, Adaptive Card 1.5 and email. */
export const SCHEDULE_MESSAGES: Record<string, Message> = {
  'start scheduled (one mailbox)': scheduledStartMessage({ addresses: ['alice@old.example'], at, timeZone: tz }),
  'start scheduled (many, some refused, outside the window)': scheduledStartMessage({
    addresses: Array.from({ length: 45 }, (_, i) => `user${i}@old.example`),
    at: new Date('2026-12-05T12:00:00Z'),
    timeZone: tz,
    refused: ['bob@old.example is already running.'],
    windowClosed: { window: '22:00-06:00', opensAt: at },
  }),
  'scheduled start cancelled': startCancelledMessage('alice@old.example', at, tz, undefined),
  'scheduled start refused': scheduledStartRefusedPost(
    'alice@old.example',
    at,
    tz,
    'Project acme has no license left (5 of 5 used).',
  ),
  'paused by the window': pausedPost('alice@old.example', opens, tz, '1,234 messages, 56 MB copied, in 2 h'),
  'status post: paused': statusPost({
    address: 'alice@old.example',
    from: 'Running',
    to: 'Queued',
    actor: 'MailFerry',
    paused: { until: opens, timeZone: tz },
  }),
  'project status with a window and scheduled starts': projectStatusMessage({
    name: 'acme',
    sourceUrl: 'imaps://old.example:993',
    destinationUrl: 'imaps://new.example:993',
    selfService: 'source',
    counts: { NotStarted: 1, Queued: 2 },
    licenses: { total: 10, used: 2, left: 8 },
    items: [
      item(1, { timing: { timeZone: tz, startAt: at } }),
      item(2, { status: 'Queued', timing: { timeZone: tz, window: { opensAt: opens, paused: true } } }),
      item(3, { status: 'Queued', timing: { timeZone: tz, window: { opensAt: opens, paused: false } } }),
    ],
    window: { window: '22:00-06:00', timeZone: tz, open: false, next: opens },
    scheduled: { count: 1, next: at, timeZone: tz },
  }),
  'item status: scheduled': itemStatusMessage(
    'acme',
    { ...item(1, { timing: { timeZone: tz, startAt: at } }), passCount: 0, lastPassMs: 0, messagesPresent: 0 },
    [],
  ),
};
