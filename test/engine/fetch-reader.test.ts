import { describe, expect, it } from 'vitest';
import { FetchReader, type FetchHandlers } from '../../engine/connectors/imap/fetch-reader.ts';
import type { SocketLoan } from '../../engine/connectors/imap/lend-socket.ts';

// The one reader of FETCH responses (the planning FETCH and the streamed copy), fed the
// bytes a server sends, cut at every possible chunk boundary: a socket delivers them in
// any pieces, and the reader must read the same whatever the cut.

/** The loan's end as the reader left it. */
interface Ended {
  err: Error | null;
  rest: string;
  aborted: boolean;
}

function loanRecorder(): { loan: SocketLoan; ended: () => Ended | null } {
  let ended: Ended | null = null;
  const loan: SocketLoan = {
    socket: process.stdin,
    get settled() {
      return ended !== null;
    },
    end(err, rest) {
      ended ??= { err, rest: rest?.toString('latin1') ?? '', aborted: false };
    },
    abort(err) {
      ended ??= { err, rest: '', aborted: true };
    },
  };
  return { loan, ended: () => ended };
}

/** What the handlers saw: literals (with the text before them and their bytes) and responses. */
function recordingHandlers(completed: Error | null = null): {
  h: FetchHandlers;
  seen: { literals: { before: string; bytes: string }[]; responses: string[] };
} {
  const seen = { literals: [] as { before: string; bytes: string }[], responses: [] as string[] };
  const h: FetchHandlers = {
    literal(before) {
      const lit = { before, bytes: '' };
      seen.literals.push(lit);
      return (part) => (lit.bytes += part.toString('latin1'));
    },
    response: (text) => seen.responses.push(text),
    completed: () => completed,
    tooLong: () => new Error('too long'),
  };
  return { h, seen };
}

/** Feeds `bytes` in two chunks cut at `cut`; `unread`: a chunk that came after the loan ended (imapflow's to read). */
function readCut(bytes: string, cut: number, completed: Error | null = null) {
  const { h, seen } = recordingHandlers(completed);
  const reader = new FetchReader('MF1', h);
  const { loan, ended } = loanRecorder();
  const buf = Buffer.from(bytes, 'latin1');
  let unread = '';
  for (const part of [buf.subarray(0, cut), buf.subarray(cut)]) {
    if (!part.length) continue;
    if (loan.settled) unread += part.toString('latin1');
    else reader.feed(part, loan);
  }
  return { seen, ended: ended(), unread };
}

const BODY1 = 'From: a@example.org\r\nSubject: {5}\r\n\r\nhello\r\n';
const BODY2 = 'x'.repeat(10);
// Dovecot's order (UID before the body), a body whose UID follows it (allowed by RFC 3501),
// an unsolicited flag update, and our tagged OK followed by bytes that belong to imapflow.
const ANSWER =
  `* 1 FETCH (UID 7 BODY[] {${BODY1.length}}\r\n${BODY1})\r\n` +
  `* 2 FETCH (BODY[] {${BODY2.length}}\r\n${BODY2} UID 9)\r\n` +
  '* 3 FETCH (FLAGS (\\Seen) UID 12)\r\n' +
  'MF1 OK Fetch completed (0.001 + 0.000 secs).\r\n* 4 EXISTS\r\n';

describe('FETCH reader', () => {
  it(
    'reads the same literals and responses at every chunk ' + 'boundary, and hands back what followed its tagged reply',
    () => {
      for (let cut = 0; cut <= ANSWER.length; cut++) {
        const { seen, ended, unread } = readCut(ANSWER, cut);
        expect(seen.literals, `cut at ${cut}`).toEqual([
          { before: '* 1 FETCH (UID 7 BODY[]', bytes: BODY1 },
          { before: '* 2 FETCH (BODY[]', bytes: BODY2 },
        ]);
        expect(seen.responses, `cut at ${cut}`).toEqual([
          '* 1 FETCH (UID 7 BODY[] )',
          '* 2 FETCH (BODY[]  UID 9)',
          '* 3 FETCH (FLAGS (\\Seen) UID 12)',
        ]);
        expect(ended, `cut at ${cut}`).toMatchObject({ err: null, aborted: false });
        // Whatever followed the tagged reply goes back to imapflow, in the chunk or after it.
        expect(`${ended?.rest}${unread}`, `cut at ${cut}`).toBe('* 4 EXISTS\r\n');
      }
    },
  );

  it('a literal8 (~{n}, RFC 3516) and an empty literal are literals too', () => {
    const bytes = '* 1 FETCH (UID 3 BODY[] ~{4}\r\na\u0000bc X {0}\r\n)\r\nMF1 OK done\r\n';
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { seen, ended } = readCut(bytes, cut);
      expect(seen.literals).toEqual([
        { before: '* 1 FETCH (UID 3 BODY[]', bytes: 'a\u0000bc' },
        { before: '* 1 FETCH (UID 3 BODY[]  X', bytes: '' },
      ]);
      expect(ended?.err).toBeNull();
    }
  });

  it("a NO or BAD rejects like an imapflow command; an OK can still end with the caller's error", () => {
    const no = readCut('MF1 NO [SERVERBUG] Internal error occurred.\r\n', 5).ended;
    expect(no?.err).toMatchObject({
      message: 'UID FETCH failed: [SERVERBUG] Internal error occurred.',
      responseStatus: 'NO',
      responseText: '[SERVERBUG] Internal error occurred.',
    });
    expect(readCut('MF1 BAD Error in IMAP command\r\n', 0).ended?.err).toMatchObject({ responseStatus: 'BAD' });
    const unreadable = new Error('unreadable');
    expect(readCut('MF1 OK done\r\n', 3, unreadable).ended).toEqual({ err: unreadable, rest: '', aborted: false });
    // Another tag's reply is no end of ours.
    expect(readCut('MF12 OK done\r\n', 0).ended).toBeNull();
  });

  it("a line over 1 MiB closes the connection with the caller's error", () => {
    const { ended } = readCut(`* 1 FETCH (UID 1 X ${'y'.repeat(1024 * 1024 + 1)}`, 100);
    expect(ended).toMatchObject({ aborted: true, err: { message: 'too long' } });
  });
});
