import type { ImapFlow } from 'imapflow';
import { type AppendResult, appendHead, appendMessageHead, namesInUtf8, parseAppendUid } from './append.ts';
import { bridgeOf, type RawOut } from './imapflow-bridge.ts';
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

/** A tagged `NO`/`BAD` of the streamed FETCH, shaped like imapflow's command errors. */
function commandFailed(status: string, text: string): Error {
  return Object.assign(new Error(`UID FETCH failed: ${text}`), { responseStatus: status, responseText: text });
}

function connectionLost(): Error {
  return Object.assign(new Error('the source connection closed during the transfer'), { code: 'EConnectionClosed' });
}

/** A source answer line longer than this is not an IMAP server we can talk to. */
const MAX_LINE = 1024 * 1024;

/**
 * Copies messages from the selected source folder into the selected destination folder by
 * piping bytes: one `UID FETCH set (UID BODY.PEEK[])` on the source connection, whose
 * literals flow straight into one APPEND (MULTIAPPEND, RFC 3502) with non-synchronizing
 * literals (LITERAL+, RFC 7888) on the destination. The size of a literal is known from its
 * `{n}` before its bytes arrive, so no message is ever held whole: memory stays at a few
 * socket buffers per lane whatever the message sizes, and both servers work at once.
 *
 * How: the source socket is lent to us between two imapflow commands (lend-socket.ts):
 * our FETCH response is read by our parser below, then the socket goes back to imapflow.
 * The APPEND goes through imapflow's queue with our writer (imapflow-bridge.ts), so
 * imapflow matches its tagged reply as usual.
 *
 * All or none: if the source fails or drops mid-transfer, the destination connection is
 * closed before the APPEND is complete, and the server drops the whole command (RFC 3502
 * §6.3.11: all or none). A destination refusal (one message too large, a NUL byte, quota)
 * rejects like any APPEND; the caller then finds the message at fault on its buffered path.
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
  onBody?: (uid: number) => ((part: Buffer) => void) | undefined,
): Promise<StreamCopyResult> {
  const d = bridgeOf(dest);
  if (!d || !bridgeOf(src)) throw Object.assign(new Error('no streamed copy on this imapflow (shape mismatch)'), { code: 'NO_BRIDGE' });
  const tag = ownTag('MF');
  const copied: number[] = [];
  const done = new Set<number>();
  let bytes = 0;

  // Destination side. The APPEND starts with the first message: nothing to send before.
  let appendDone: Promise<AppendResult> | null = null;
  let out: RawOut | null = null;
  const early: Buffer[] = []; // bytes produced before imapflow dispatched the APPEND
  let waitingDrain = false;
  let destFailed = false; // the APPEND was answered early (refused): the rest is read and dropped
  let loan: SocketLoan | null = null; // the source socket, while our FETCH runs
  const write = (b: Buffer): boolean => out!.write(b);
  const startAppend = (firstHead: Buffer) => {
    early.push(firstHead);
    appendDone = d
      .execWritten('APPEND', (appendTag, sink) => {
        out = sink;
        write(appendHead(appendTag, destMailbox, namesInUtf8(dest)));
        for (const b of early.splice(0)) write(b);
        return [];
      })
      .then((res) => {
        const r = parseAppendUid(res.response.attributes?.[0]?.section);
        res.next();
        return r;
      });
    appendDone.catch((err: unknown) => {
      destFailed = true;
      if (!loan || loan.settled) return;
      if (dest.usable) {
        // Refused (NO/BAD) but connected: read the rest of the FETCH and drop it, so the
        // source connection stays usable for the caller's fallback.
        if (waitingDrain) {
          waitingDrain = false;
          loan.socket.resume();
        }
        return;
      }
      // The destination is gone: the source is mid-response and cannot be handed back.
      loan.abort(Object.assign(err as Error, { side: 'destination' }));
    });
  };
  /** Writes to the APPEND; false when the destination asks us to wait for 'drain'. */
  const emit = (b: Buffer): boolean => {
    if (destFailed) return true;
    if (!out) {
      early.push(b);
      return true;
    }
    return write(b);
  };

  const line: Buffer[] = [];
  let lineBytes = 0;
  let responseText = ''; // the text of the current response so far, literals left out
  let literalLeft = 0;
  let literalKind: 'body' | 'skip' | 'buffer' = 'skip';
  let buffered: Buffer[] = []; // a body whose UID the server had not named before it
  let bufferedSize = 0;

  const pauseForDrain = () => {
    if (!out || waitingDrain || !loan) return;
    const l = loan;
    waitingDrain = true;
    l.socket.pause();
    out.onceDrain(() => {
      waitingDrain = false;
      if (!l.settled) l.socket.resume();
    });
  };
  const send = (b: Buffer) => {
    if (!emit(b)) pauseForDrain();
  };
  let reader: ((part: Buffer) => void) | undefined;
  const bodyStart = (uid: number, size: number) => {
    reader = onBody?.(uid);
    const head = appendMessageHead(metas.get(uid)!, size);
    if (!appendDone) startAppend(head);
    else send(head);
    copied.push(uid);
    done.add(uid);
    bytes += size;
  };
  const uidOf = (text: string): number | null => {
    const m = /\bUID (\d+)/i.exec(text);
    return m ? Number(m[1]) : null;
  };
  const wanted = (uid: number | null): uid is number => uid !== null && metas.has(uid) && !done.has(uid);

  /** A response ended: our tagged one ends the transfer. */
  const endOfResponse = (): 'ok' | Error | null => {
    const text = responseText;
    responseText = '';
    if (text.startsWith(`${tag} `)) {
      const m = /^\S+ (OK|NO|BAD)\b ?(.*)$/i.exec(text);
      const status = (m?.[1] ?? 'BAD').toUpperCase();
      return status === 'OK' ? 'ok' : commandFailed(status, m?.[2] ?? text);
    }
    if (buffered.length || bufferedSize) {
      // The UID came after the body (the server's order): now it is known.
      const uid = uidOf(text);
      const body = buffered;
      const size = bufferedSize;
      buffered = [];
      bufferedSize = 0;
      if (wanted(uid)) {
        bodyStart(uid, size);
        for (const b of body) {
          reader?.(b);
          send(b);
        }
      }
    }
    return null;
  };

  const onData = (chunk: Buffer, l: SocketLoan) => {
    loan = l;
    let pos = 0;
    while (pos < chunk.length && !l.settled) {
      if (literalLeft > 0) {
        const n = Math.min(literalLeft, chunk.length - pos);
        const part = chunk.subarray(pos, pos + n);
        if (literalKind === 'body') {
          reader?.(part);
          send(part);
        } else if (literalKind === 'buffer') buffered.push(part);
        literalLeft -= n;
        pos += n;
        continue;
      }
      const lf = chunk.indexOf(10, pos);
      if (lf < 0) {
        line.push(chunk.subarray(pos));
        lineBytes += chunk.length - pos;
        if (lineBytes > MAX_LINE) l.abort(commandFailed('BAD', 'a response line from the source is too long'));
        return;
      }
      line.push(chunk.subarray(pos, lf + 1));
      pos = lf + 1;
      const text = (line.length === 1 ? line[0] : Buffer.concat(line)).toString('latin1').replace(/\r?\n$/, '');
      line.length = 0;
      lineBytes = 0;
      responseText += text;
      const lit = /~?\{(\d+)\}$/.exec(text);
      if (lit) {
        literalLeft = Number(lit[1]);
        const before = responseText.slice(0, responseText.length - lit[0].length).trimEnd();
        const isBody = /^\* \d+ FETCH\b/i.test(responseText) && /BODY\[\]$/i.test(before);
        const uid = isBody ? uidOf(before) : null;
        literalKind = 'skip';
        if (isBody && wanted(uid)) {
          literalKind = 'body';
          bodyStart(uid, literalLeft);
        } else if (isBody && uid === null) {
          literalKind = 'buffer';
          bufferedSize = literalLeft;
        }
        continue;
      }
      const outcome = endOfResponse();
      if (outcome === 'ok') return l.end(null, chunk.subarray(pos));
      if (outcome) return l.end(outcome, chunk.subarray(pos));
    }
  };

  try {
    await lendSocket(src, `${tag} UID FETCH ${uidSet} (UID BODY.PEEK[])`, onData, connectionLost);
  } catch (err) {
    // A half-sent APPEND must not complete: closing the destination drops it whole.
    if (appendDone) dest.close();
    const e = err as { side?: string };
    if (!e.side) e.side = 'source';
    throw e;
  }

  if (!appendDone) return { copied, bytes };
  emit(Buffer.from('\r\n', 'latin1')); // ends the APPEND; its tagged reply settles it
  const r = await (appendDone as Promise<AppendResult>).catch((err: unknown) => {
    throw Object.assign(err as object, { side: 'destination' });
  });
  return { ...r, copied, bytes };
}
