import { describe, expect, it } from 'vitest';
import { progressPost } from '../../cards/item-posts.ts';
import { digestMessage } from '../../cards/digest.ts';
import { renderText } from '../../cards/render-text.ts';
import { unionMs } from '../../bot/scheduler/build-digest.ts';

const figures = {
  messagesFound: 20,
  bytesFound: 20_000,
  messagesCopied: 20,
  bytesCopied: 20_000,
  messagesPresent: 0,
  messagesSkipped: 0,
  durationMs: 5000,
};

describe('progress never reads 100% of a part', () => {
  it('while folders are listed, it says so', () => {
    expect(
      progressPost('a@old.example', { ...figures, messagesFound: 0, messagesCopied: 0 }, undefined, {
        phase: 'listing',
        foldersTotal: 0,
        foldersUncounted: 0,
      }).text,
    ).toBe('🔄 a@old.example: listing folders…');
  });
  it(
    'with folders not counted yet (no LIST-STATUS or STATUS), it gives ' +
      'what is copied so far and what is left to count, no percentage',
    () => {
      const t = progressPost('a@old.example', figures, 'INBOX', {
        phase: 'copying',
        foldersTotal: 12,
        foldersUncounted: 11,
      }).text;
      expect(t).toBe(
        '🔄 a@old.example: 20 messages copied so far (20 KB); 11 of 12 folders still to count, now in INBOX',
      );
      expect(t).not.toMatch(/%/);
    },
  );
  it('once every folder is counted, the percentage of all of them', () => {
    expect(
      progressPost('a@old.example', { ...figures, messagesFound: 80 }, 'INBOX', {
        phase: 'copying',
        foldersTotal: 12,
        foldersUncounted: 0,
      }).text,
    ).toMatch(/^🔄 a@old\.example: 25% — 20 of 80 messages copied/);
  });
});

describe("the digest's throughput is rated by the time passes ran", () => {
  it('overlapping passes count their time once', () => {
    expect(
      unionMs([
        [0, 10],
        [5, 15],
        [20, 30],
        [21, 22],
      ]),
    ).toBe(25);
    expect(unionMs([])).toBe(0);
  });
  it('35,000 messages in an hour of copying over three days of waiting for users reads 35,000 messages/h', () => {
    const m = digestMessage({
      projectName: 'acme',
      now: new Date('2026-11-30T09:00:00Z'),
      since: new Date('2026-11-27T09:00:00Z'),
      sinceDigest: true,
      counts: { Completed: 1 },
      waiting: [],
      failed: [],
      completed: [],
      throughput: { messages: 35_000, bytes: 3_500_000_000, passes: 1, periodMs: 3 * 86_400_000, copyingMs: 3_600_000 },
      licenses: { total: null, used: 1, left: null },
    } as Parameters<typeof digestMessage>[0]);
    expect(renderText(m)).toContain('35,000 messages/h, 3.5 GB/h while copying (1 h of copying in 3 d)');
  });
});
