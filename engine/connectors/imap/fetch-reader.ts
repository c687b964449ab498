import type { ImapFlow } from 'imapflow';
import { lendSocket, type SocketLoan } from './lend-socket.ts';

/** A source answer line longer than this is not an IMAP server we can talk to. */
const MAX_LINE = 1024 * 1024;

/** A literal announcement at the end of a line: `{n}`, or `~{n}` (literal8, RFC 3516). */
const LITERAL = /~?\{(\d+)\}$/;

/** What a caller of the reader does with the responses of its command. */
export interface FetchHandlers {
  /**
   * A literal of `size` bytes begins; `before` is its response's text up to the literal
   * (earlier literals left out, trailing spaces trimmed), e.g. `* 3 FETCH (UID 7 BODY[]`.
   * Returns where its bytes go, part by part as they arrive, or null to skip them.
   */
  literal?(before: string, size: number): ((part: Buffer) => void) | null;
  /** An untagged response ended: its whole text, literals left out (each leaves the text around it). */
  response?(text: string): void;
  /** Our tagged OK was read: an error to end the command with all the same (the connection stays in step), or null. */
  completed?(): Error | null;
  /**
   * Asked after each untagged response: true ends the loan there (as a tagged OK would). For
   * commands sent together whose tagged replies the caller reads itself in {@link FetchHandlers.response}.
   */
  allAnswered?(): boolean;
  /** The error a response line over 1 MiB ends the command with (the connection is closed: it is out of step). */
  tooLong(): Error;
}

/** A tagged `NO`/`BAD`, shaped like imapflow's command errors (`responseStatus`, `responseText`). */
export function commandFailed(status: string, text: string): Error {
  return Object.assign(new Error(`UID FETCH failed: ${text}`), { responseStatus: status, responseText: text });
}

/** Our tagged reply: null for OK, else the error it stands for. */
function taggedOutcome(text: string): Error | null {
  const m = /^\S+ (OK|NO|BAD)\b ?(.*)$/i.exec(text);
  const status = (m?.[1] ?? 'BAD').toUpperCase();
  return status === 'OK' ? null : commandFailed(status, m?.[2] ?? text);
}

/**
 * Reads the answer to one command of ours on a lent socket (lend-socket.ts), typically a
 * `UID FETCH`, chunk by chunk as the socket delivers: lines are split at LF, a line ending
 * in `{n}` is followed by n bytes of literal (RFC 3501 §4.3) handed to the caller as they
 * come (never joined), and a response ends at the first line without a literal. When our
 * tagged reply is read the loan ends, handing back whatever followed it; a NO or BAD
 * rejects the command as imapflow would. The one parser of FETCH responses: the planning
 * FETCH (fetch-meta.ts) and the streamed copy (stream-copy.ts) both read through it.
 */
export class FetchReader {
  private readonly line: Buffer[] = [];
  private lineBytes = 0;
  /** The current response's text so far, literals left out. */
  private text = '';
  private literalLeft = 0;
  private sink: ((part: Buffer) => void) | null = null;

  constructor(
    private readonly tag: string,
    private readonly handlers: FetchHandlers,
  ) {}

  /** Reads one chunk of the lent socket; ends the loan at our tagged reply. */
  feed(chunk: Buffer, loan: SocketLoan): void {
    let pos = 0;
    while (pos < chunk.length && !loan.settled) {
      if (this.literalLeft > 0) {
        const n = Math.min(this.literalLeft, chunk.length - pos);
        this.sink?.(chunk.subarray(pos, pos + n));
        this.literalLeft -= n;
        pos += n;
        continue;
      }
      const lf = chunk.indexOf(10, pos);
      if (lf < 0) {
        this.line.push(chunk.subarray(pos));
        this.lineBytes += chunk.length - pos;
        if (this.text.length + this.lineBytes > MAX_LINE) loan.abort(this.handlers.tooLong());
        return;
      }
      this.line.push(chunk.subarray(pos, lf + 1));
      pos = lf + 1;
      const tagged = this.endOfLine();
      if (tagged === null && !this.literalLeft && this.handlers.allAnswered?.()) {
        loan.end(null, chunk.subarray(pos));
        return;
      }
      if (tagged === 'ok') {
        loan.end(this.handlers.completed?.() ?? null, chunk.subarray(pos));
        return;
      }
      if (tagged) {
        loan.end(tagged, chunk.subarray(pos));
        return;
      }
    }
  }

  /** A line is complete: a literal begins, or a response ends ('ok' or an error for our tagged one). */
  private endOfLine(): 'ok' | Error | null {
    const parts = this.line;
    const line = (parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts))
      .toString('latin1')
      .replace(/\r?\n$/, '');
    parts.length = 0;
    this.lineBytes = 0;
    const lit = LITERAL.exec(line);
    if (lit) {
      this.text += line.slice(0, line.length - lit[0].length);
      this.literalLeft = Number(lit[1]);
      this.sink = this.handlers.literal?.(this.text.trimEnd(), this.literalLeft) ?? null;
      return null;
    }
    const text = this.text + line;
    this.text = '';
    this.sink = null;
    if (text.startsWith(`${this.tag} `)) return taggedOutcome(text) ?? 'ok';
    this.handlers.response?.(text);
    return null;
  }
}

/**
 * Sends `command` (without its tag) on `client`'s lent socket and reads its answer with a
 * {@link FetchReader}. Resolves at our tagged OK (unless `completed` says otherwise);
 * rejects on NO/BAD, or with `lost()` when the connection closes first. `label` names the
 * command in the trace (default: its first two words).
 */
export function readFetch(
  client: ImapFlow,
  tag: string,
  command: string,
  handlers: FetchHandlers,
  lost: () => Error,
  label?: string,
): Promise<void> {
  const reader = new FetchReader(tag, handlers);
  return lendSocket(client, `${tag} ${command}`, (chunk, loan) => reader.feed(chunk, loan), lost, label);
}
