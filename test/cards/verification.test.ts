import { describe, expect, it } from 'vitest';
import { renderText } from '../../cards/render-text.ts';
import { statusPost } from '../../cards/item-posts.ts';
import { itemStatusMessage } from '../../cards/status.ts';
import { verificationLine, type VerificationView } from '../../cards/verification.ts';
import { describeEvent } from '../../bot/commands/status.ts';

const clean: VerificationView = {
  foldersChecked: 6,
  foldersShort: [],
  missingAtStart: 0,
  recopied: 0,
  missing: 0,
  altered: 0,
  alteredReasons: {},
  unchecked: 0,
};
const item = {
  sourceAddress: 'a@x.example',
  destinationAddress: 'a@y.example',
  status: 'Completed',
  messagesCopied: 8,
  bytesCopied: 20_000,
  messagesSkipped: 0,
  license: 'consumed',
  passCount: 2,
  lastPassMs: 900,
  messagesPresent: 0,
};

describe('verification wording', () => {
  it('a clean pass says so: folders checked, counts match, nothing altered', () => {
    expect(verificationLine(clean)).toBe('6 folders checked, counts match; no message altered by the destination');
  });

  it('altered messages are counted with the reason; a short folder is named with what was done', () => {
    const v: VerificationView = {
      ...clean,
      foldersShort: [
        { folder: 'INBOX', missingAtStart: 2, recopied: 2, missing: 0 },
        { folder: 'Sent', missingAtStart: 0, recopied: 0, missing: 1 },
      ],
      missingAtStart: 2,
      recopied: 2,
      missing: 1,
      altered: 1,
      alteredReasons: { '8-bit header bytes replaced by the server': 1 },
    };
    expect(verificationLine(v)).toBe(
      '6 folders checked; counts short: INBOX: 2 messages missing at the destination, 2 copied ' +
        'again; Sent: 1 fewer at the destination than at the source, re-matched on the next ' +
        'pass; 1 message altered by the destination (8-bit header bytes replaced by the server)',
    );
    const two = verificationLine({
      ...clean,
      altered: 3,
      alteredReasons: { '8-bit header bytes replaced by the server': 2, 'size changed by the server': 1 },
      unchecked: 4,
    });
    expect(two).toContain(
      '3 messages altered by the destination (8-bit header bytes ' +
        'replaced by the server: 2, size changed by the server: 1)',
    );
    expect(two).toContain('4 messages not compared');
    // Many short folders: three by name, the rest as a count (the line stays a line).
    const many = Array.from({ length: 8 }, (_, i) => ({ folder: `F${i}`, missingAtStart: 1, recopied: 1, missing: 0 }));
    const line = verificationLine({ ...clean, foldersShort: many, missingAtStart: 8, recopied: 8 });
    expect(line).toContain(
      'F2: 1 message missing at the destination, 1 copied again; 5 messages more missing in other folders',
    );
    expect(line).not.toContain('F3');
  });

  it('the Completed post carries the verification in one line', () => {
    const m = statusPost({
      address: 'a@x.example',
      from: 'Running',
      to: 'Completed',
      actor: 'system',
      figures: {
        messagesFound: 8,
        bytesFound: 20_000,
        messagesCopied: 8,
        bytesCopied: 20_000,
        messagesPresent: 0,
        messagesSkipped: 0,
        durationMs: 900,
        verification: { ...clean, altered: 1, alteredReasons: { '8-bit header bytes replaced by the server': 1 } },
      },
    });
    const lines = renderText(m)
      .split('\n')
      .filter((l) => l.includes('Verified'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      'Verified: 6 folders checked, counts match; 1 message altered ' +
        'by the destination (8-bit header bytes replaced by the server).',
    );
    expect(m.text).toContain('Verified: 6 folders checked');
    // A pass without a verification (an old event) posts as before.
    const old = statusPost({
      address: 'a@x.example',
      from: 'Running',
      to: 'Completed',
      actor: 'system',
      figures: {
        messagesFound: 1,
        bytesFound: 1,
        messagesCopied: 1,
        bytesCopied: 1,
        messagesPresent: 0,
        messagesSkipped: 0,
        durationMs: 1,
      },
    });
    expect(renderText(old)).not.toContain('Verified');
  });

  it(
    'status ADDRESS shows the last pass’s verification, every altered ' +
      'message, and the verification of each pass in its history line',
    () => {
      const v = {
        ...clean,
        foldersChecked: 2,
        altered: 1,
        alteredReasons: { '8-bit header bytes replaced by the server': 1 },
      };
      const history = [
        {
          at: new Date('2026-11-29T10:00:00Z'),
          actor: 'system:mailferry (MailFerry)',
          kind: 'pass-completed',
          fromStatus: 'Running',
          toStatus: 'Completed',
          summary: describeEvent('pass-completed', 'Running', 'Completed', {
            figures: { messagesCopied: 8, verification: v },
          }),
        },
      ];
      const m = itemStatusMessage('acme', item, history, {
        folders: [],
        skipped: [],
        altered: [
          {
            sourceFolder: 'INBOX',
            uid: 3,
            destUid: 7,
            sourceSize: 2048,
            destSize: 2048,
            reason: '8-bit header bytes replaced by the server',
          },
        ],
        verification: v,
      });
      const text = renderText(m);
      expect(text).toContain(
        'Verified (last pass): 2 folders checked, counts match; 1 message ' +
          'altered by the destination (8-bit header bytes replaced by the server)',
      );
      expect(text).toContain('Altered by the destination (stored differently from the source; 1 message, all passes):');
      expect(text).toContain('INBOX UID 3 (2.0 KB) → UID 7: 8-bit header bytes replaced by the server');
      expect(text).toContain(
        'pass completed (Running → Completed) — verified: 2 ' +
          'folders checked, counts match, 1 altered by the destination',
      );
      // Before any verified pass nothing is claimed.
      expect(renderText(itemStatusMessage('acme', item, []))).not.toMatch(/Verified|Altered/);
    },
  );
});
