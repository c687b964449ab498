import type { ImapFlow } from 'imapflow';
import { type AppendResult, appendHead, appendMessageHead, namesInUtf8, parseAppendUid } from './append.ts';
import { commandFailed, FetchReader, type FetchHandlers } from './fetch-reader.ts';
import { bridgeOf, type ImapflowBridge, type RawOut } from './imapflow-bridge.ts';
import { lendSocket, ownTag, type SocketLoan } from './lend-socket.ts';

/** Flags (already filtered for the destination) and date of one message to stream. */
export interface StreamMeta {
  flags: string[];
  internalDate: Date;
}

/** What a streamed copy did. */
export interface StreamCopyResult extends AppendResult {
  /** Source UIDs appended, in the order they went. */
  copied: number[];
  /** Bytes of those messages. */
  bytes: number;
}

function connectionLost(): Error {
  return Object.assign(new Error('the source connection closed during the transfer'), { code: 'EConnectionClosed' });
}

/** The error as an Error tagged with the side it came from (`force`: even when it named one). */
function onSideError(err: unknown, side: 'source' | 'destination', force: boolean): unknown {
  if (typeof err !== 'object' || err === null) return err;
  if (force || !('side' in err && err.side)) Object.assign(err, { side });
  return err;
}

/**
 * The destination side of a streamed copy: one APPEND (MULTIAPPEND, RFC 3502) written as
 * the source's literals arrive. It starts with the first message (nothing to send
 * before); bytes produced before imapflow dispatched it wait in `early`. Back-pressure: the
 * source socket pauses while the destination's is full.
 */
class AppendStream {
  private answer: Promise<AppendResult> | null = null;
  private out: RawOut | null = null;
  private readonly early: Buffer[] = [];
  private waitingDrain = false;
  /** Inside {@link AppendStream.together}: back-pressure is looked at once its writes have gone. */
  private grouped = false;
  /** The destination's socket holds our writes until the chunk is done. */
  private corked = false;
  /** The source socket, while our FETCH runs. */
  loan: SocketLoan | null = null;

  constructor(
    private readonly dest: ImapFlow,
    private readonly bridge: ImapflowBridge,
    private readonly mailbox: string,
  ) {}

  /** The APPEND was sent (a message went). */
  get started(): boolean {
    return this.answer !== null;
  }

  /** A message begins: its head opens the APPEND, or follows the previous message. */
  messageHead(head: Buffer): void {
    if (!this.answer) this.start(head);
    else this.send(head);
  }

  private start(firstHead: Buffer): void {
    this.early.push(firstHead);
    const answer = this.bridge
      .execWritten('APPEND', (appendTag, sink) => {
        this.out = sink;
        this.cork();
        sink.write(appendHead(appendTag, this.mailbox, namesInUtf8(this.dest)));
        for (const b of this.early.splice(0)) sink.write(b);
        return [];
      })
      .then((res) => {
        const r = parseAppendUid(res.response.attributes?.[0]?.section);
        res.next();
        return r;
      });
    answer.catch((err: unknown) => this.answeredEarly(err));
    this.answer = answer;
  }

  /**
   * The APPEND was answered before we finished writing it (a refusal: NO or BAD, or the
   * connection dropped). A server that refuses a message mid-command still reads the
   * command to its end: with non-synchronizing literals it must consume every byte we
   * announced (RFC 7888 §4), and Dovecot answers NO as soon as it reads a literal's size
   * over its limit, then reads on. So the rest of the FETCH keeps flowing into the APPEND,
   * byte for byte, up to its final CRLF: dropping it would leave the server inside a
   * literal, reading our next command as message bytes, and the pass would wait forever
   * for an answer that never comes.
   */
  private answeredEarly(err: unknown): void {
    const loan = this.loan;
    if (!loan || loan.settled || this.dest.usable) return;
    // The destination is gone: the source is mid-response and cannot be handed back.
    const e = err instanceof Error ? err : new Error(String(err));
    loan.abort(Object.assign(e, { side: 'destination' }));
  }

  /** Writes to the APPEND; false when the destination asks us to wait for 'drain'. */
  private emit(b: Buffer): boolean {
    if (!this.out) {
      this.early.push(b);
      return true;
    }
    return this.out.write(b);
  }

  /**
   * Runs `fn`, which writes what one chunk of the source brought (several messages' heads and
   * bodies, when they are small), as one write to the destination's socket: a write per part
   * costs a system call and a wake-up of the server each. Back-pressure as for single writes,
   * once they have gone.
   */
  together(fn: () => void): void {
    this.grouped = true;
    this.cork();
    try {
      fn();
    } finally {
      this.grouped = false;
      if (this.corked && this.out) {
        this.corked = false;
        if (this.out.uncork()) this.waitForDrain();
      }
    }
  }

  /** Within {@link AppendStream.together}, once the APPEND is written (it may start midway): writes are held. */
  private cork(): void {
    if (!this.grouped || this.corked || !this.out) return;
    this.out.cork();
    this.corked = true;
  }

  /** Writes to the APPEND, pausing the source while the destination's socket is full. */
  send(b: Buffer): void {
    if (this.emit(b) || this.grouped) return;
    this.waitForDrain();
  }

  /**
   * Pauses the source until the destination's socket has taken what it holds. Not once our
   * FETCH has ended (its last chunk may fill the socket): the source socket is imapflow's
   * again, and nothing would resume it.
   */
  private waitForDrain(): void {
    if (!this.out || this.waitingDrain || !this.loan || this.loan.settled) return;
    const l = this.loan;
    this.waitingDrain = true;
    l.socket.pause();
    this.out.onceDrain(() => {
      this.waitingDrain = false;
      if (!l.settled) l.socket.resume();
    });
  }

  /** Ends the APPEND (its tagged reply settles it) and waits for the destination's answer. */
  async finish(): Promise<AppendResult> {
    this.emit(Buffer.from('\r\n', 'latin1'));
    if (!this.answer) throw new Error('no APPEND was started');
    return this.answer.catch((err: unknown) => {
      throw onSideError(err, 'destination', true);
    });
  }
}

/** Asked at the start of each message for a reader of its bytes as they pass (or none). */
export type BodyReaders = (uid: number) => ((part: Buffer) => void) | undefined;

/** The UID a FETCH response's text names, if any. */
function uidOf(text: string): number | null {
  const m = /\bUID (\d+)/i.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * The source side of a streamed copy: which FETCH literals are bodies to copy (each body
 * once, only the UIDs asked for), with the UIDs and bytes that went. A body whose UID the
 * server names only after it (RFC 3501 allows any order) is held until the response ends.
 */
class BodyRouter implements FetchHandlers {
  readonly copied: number[] = [];
  bytes = 0;
  private readonly done = new Set<number>();
  private buffered: Buffer[] = [];
  private bufferedSize = 0;
  /** The caller's reader of the current message's bytes, if it asked for one. */
  private reader: ((part: Buffer) => void) | undefined;

  constructor(
    private readonly metas: Map<number, StreamMeta>,
    private readonly append: AppendStream,
    private readonly onBody?: BodyReaders,
  ) {}

  private wanted(uid: number | null): StreamMeta | undefined {
    return uid === null || this.done.has(uid) ? undefined : this.metas.get(uid);
  }

  private bodyStart(uid: number, meta: StreamMeta, size: number): void {
    this.reader = this.onBody?.(uid);
    this.append.messageHead(appendMessageHead(meta, size));
    this.copied.push(uid);
    this.done.add(uid);
    this.bytes += size;
  }

  /** A part of the current message's body: to the caller's reader, then to the APPEND. */
  private body(part: Buffer): void {
    this.reader?.(part);
    this.append.send(part);
  }

  literal(before: string, size: number): ((part: Buffer) => void) | null {
    const isBody = /^\* \d+ FETCH\b/i.test(before) && /BODY\[\]$/i.test(before);
    if (!isBody) return null;
    const uid = uidOf(before);
    const meta = this.wanted(uid);
    if (uid !== null && meta) {
      this.bodyStart(uid, meta, size);
      return (part) => this.body(part);
    }
    if (uid !== null) return null;
    this.bufferedSize = size;
    return (part) => this.buffered.push(part);
  }

  response(text: string): void {
    if (!this.buffered.length && !this.bufferedSize) return;
    // The UID came after the body (the server's order): now it is known.
    const uid = uidOf(text);
    const body = this.buffered;
    const size = this.bufferedSize;
    this.buffered = [];
    this.bufferedSize = 0;
    const meta = this.wanted(uid);
    if (uid === null || !meta) return;
    this.bodyStart(uid, meta, size);
    for (const b of body) this.body(b);
  }

  tooLong(): Error {
    return commandFailed('BAD', 'a response line from the source is too long');
  }
}

/**
 * Copies messages from the selected source folder into the selected destination folder by
 * piping bytes: one `UID FETCH set (UID BODY.PEEK[])` on the source connection, whose
 * literals flow straight into one APPEND (MULTIAPPEND, RFC 3502) with non-synchronizing
 * literals (LITERAL+, RFC 7888) on the destination. The size of a literal is known from its
 * `{n}` before its bytes arrive, so no message is ever held whole: memory stays at a few
 * socket buffers per lane whatever the message sizes, and both servers work at once.
 *
 * How: the source socket is lent to us between two imapflow commands (lend-socket.ts):
 * our FETCH response is read by the FETCH reader (fetch-reader.ts), then the socket goes
 * back to imapflow. The APPEND goes through imapflow's queue with our writer
 * (imapflow-bridge.ts), so imapflow matches its tagged reply as usual.
 *
 * All or none: if the source fails or drops mid-transfer, the destination connection is
 * closed before the APPEND is complete, and the server drops the whole command (RFC 3502
 * §6.3.11: all or none). A destination refusal (one message too large, a NUL byte, quota)
 * rejects like any APPEND, even when it comes before the last byte: the command is still
 * written to its end, so the connection stays in step; the caller then finds the message
 * at fault on its buffered path.
 * Messages expunged at the source meanwhile are simply not in `copied`.
 *
 * Needs LITERAL+ and MULTIAPPEND at the destination, the imapflow bridge on both
 * connections (imapflow-bridge.ts) and no command in flight on either; the caller checks.
 * `onBody`, when given, is asked at the start of each message for a reader of its bytes as
 * they pass (the header check of the verification reads the first ones).
 */
export async function streamCopy(
  src: ImapFlow,
  dest: ImapFlow,
  destMailbox: string,
  uidSet: string,
  metas: Map<number, StreamMeta>,
  onBody?: BodyReaders,
): Promise<StreamCopyResult> {
  const d = bridgeOf(dest);
  if (!d || !bridgeOf(src))
    throw Object.assign(new Error('no streamed copy on this imapflow (shape mismatch)'), { code: 'NO_BRIDGE' });
  const tag = ownTag('MF');
  const append = new AppendStream(dest, d, destMailbox);
  const bodies = new BodyRouter(metas, append, onBody);
  const reader = new FetchReader(tag, bodies);
  const onData = (chunk: Buffer, loan: SocketLoan) => {
    append.loan = loan;
    append.together(() => reader.feed(chunk, loan));
  };
  try {
    await lendSocket(src, `${tag} UID FETCH ${uidSet} (UID BODY.PEEK[])`, onData, connectionLost);
  } catch (err) {
    // A half-sent APPEND must not complete: closing the destination drops it whole.
    if (append.started) dest.close();
    throw onSideError(err, 'source', false);
  }
  if (!append.started) return { copied: bodies.copied, bytes: bodies.bytes };
  const r = await append.finish();
  return { ...r, copied: bodies.copied, bytes: bodies.bytes };
}
