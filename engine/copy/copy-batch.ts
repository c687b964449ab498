import type { ImapFlow } from 'imapflow';
import { appendMessages } from '../connectors/imap/append.ts';
import { streamCopy } from '../connectors/imap/stream-copy.ts';
import { classifyImapError, errorDetail, errorField, responseCode } from '../connectors/imap/classify-error.ts';
import { HeaderScan, headerDigestOf, type HeaderDigest } from './header-digest.ts';
import { onSide, type MessageMeta } from './plan-folder.ts';
import { CopyError } from './types.ts';
import { uidSet } from './uid-set.ts';

/** A message ready to append. */
export interface OutgoingMessage {
  meta: MessageMeta;
  body: Buffer;
}

/** What happened to a batch. */
export interface BatchOutcome {
  appended: MessageMeta[];
  /** Bytes of the appended messages. */
  bytes: number;
  refused: { message: MessageMeta; size: number; reason: string }[];
  /** Destination UIDNEXT after the batch, when the server told (APPENDUID, RFC 4315). */
  destUidNext?: number;
  /** Destination UID of each appended message (same order), when the server told every one (APPENDUID). */
  destUids?: number[];
  /**
   * Digests of the header of each appended message whose header has 8-bit bytes, by source UID (the verification reads
   * them back).
   */
  headers?: Map<number, HeaderDigest>;
  /** Set when the batch ended early: source UIDs up to this one are done, later ones were not sent. */
  confirmedThrough?: number;
  /** An error that must end the pass once the done part is checkpointed (quota). */
  fatal?: CopyError;
}

/** Splits planned messages into batches bounded by count and bytes; a bigger message goes alone. */
export function splitBatches(messages: MessageMeta[], maxMessages: number, maxBytes: number): MessageMeta[][] {
  const out: MessageMeta[][] = [];
  let cur: MessageMeta[] = [];
  let bytes = 0;
  for (const m of messages) {
    if (cur.length && (cur.length >= maxMessages || bytes + m.size > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(m);
    bytes += m.size;
  }
  if (cur.length) out.push(cur);
  return out;
}

export { uidSet };

/**
 * Fetches the exact bytes of a batch with `UID FETCH … BODY.PEEK[]` (PEEK leaves `\Seen`
 * alone, RFC 3501 §6.4.5). Messages expunged at the source meanwhile are simply absent.
 */
export async function fetchBodies(src: ImapFlow, batch: MessageMeta[]): Promise<OutgoingMessage[]> {
  const byUid = new Map<number, Buffer>();
  for await (const m of src.fetch(uidSet(batch.map((b) => b.uid)), { uid: true, source: true }, { uid: true })) {
    if (m.source) byUid.set(m.uid, m.source);
  }
  return batch.filter((m) => byUid.has(m.uid)).map((meta) => ({ meta, body: byUid.get(meta.uid)! }));
}

const SYSTEM_FLAGS = new Map(
  ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map((f) => [f.toLowerCase(), f]),
);

/**
 * Flags the destination keeps: system flags always; keywords when PERMANENTFLAGS lists
 * them or contains `\*` (new keywords allowed, RFC 3501 §7.1). Keywords must be atoms.
 */
export function keptFlags(flags: string[], permanent: Set<string>): string[] {
  const anyKeyword = permanent.has('\\*') || permanent.size === 0;
  const out: string[] = [];
  for (const f of flags) {
    const sys = SYSTEM_FLAGS.get(f.toLowerCase());
    if (sys) out.push(sys);
    else if (!f.startsWith('\\') && /^[^(){ %*"\\\]\x00-\x20\x7f]+$/.test(f) && (anyKeyword || permanent.has(f)))
      out.push(f);
  }
  return [...new Set(out)];
}

/**
 * Sends one APPEND carrying all the given messages (MULTIAPPEND, RFC 3502, when more than
 * one), keeping only the flags the destination keeps. Returns the destination UIDNEXT
 * after it and the UID of each message when the server gave APPENDUID (RFC 4315).
 */
export async function appendRaw(
  dest: ImapFlow,
  path: string,
  messages: OutgoingMessage[],
  permanent: Set<string>,
): Promise<{ uidNext?: number; uids?: number[] }> {
  const r = await appendMessages(
    dest,
    path,
    messages.map((m) => ({
      flags: keptFlags(m.meta.flags, permanent),
      internalDate: m.meta.internalDate,
      body: m.body,
    })),
  );
  // The last UID of the set + 1 is the new UIDNEXT.
  const last = r.uids?.[r.uids.length - 1];
  return {
    uidNext: last ? last + 1 : undefined,
    uids: r.uids && r.uids.length === messages.length ? r.uids : undefined,
  };
}

function isRefusal(err: unknown): boolean {
  const status = errorField(err, 'responseStatus');
  // A throttled APPEND (ETHROTTLE, a NO or BAD too) refused nothing: the caller waits and retries it.
  return (status === 'NO' || status === 'BAD') && classifyImapError(err) !== 'throttled';
}

/**
 * Why the destination said NO to one message. Only `content` is the message's own fault
 * (too big, bad syntax, a NUL byte…): it is skipped with the reason. `folder` (RFC 5530
 * TRYCREATE / NONEXISTENT: the folder is missing) and `transient` (UNAVAILABLE, SERVERBUG,
 * INUSE, CORRUPTION: the server's trouble) are never a reason to skip a message.
 */
export function refusalKind(err: unknown): 'folder' | 'transient' | 'content' {
  const code = responseCode(err);
  if (code === 'TRYCREATE' || code === 'NONEXISTENT') return 'folder';
  if (code === 'UNAVAILABLE' || code === 'SERVERBUG' || code === 'INUSE' || code === 'CORRUPTION') return 'transient';
  return 'content';
}

/** The destination folder is missing (TRYCREATE): the pass creates it and retries the folder, or fails. */
function folderMissing(path: string, err: unknown): CopyError {
  return new CopyError(
    'DESTINATION_FOLDER_MISSING',
    'Internal',
    `the destination says folder ${path} does not exist: ${errorDetail(err)}`,
    { cause: err },
  );
}

function quotaError(err: unknown): CopyError {
  return new CopyError('DESTINATION_QUOTA', 'DestinationQuota', `destination over quota: ${errorDetail(err)}`, {
    cause: err,
  });
}

/**
 * Appends a batch to the selected destination folder. One MULTIAPPEND when allowed; the
 * command is atomic (RFC 3502 §6.3.11: all or none), so on `NO` the batch is replayed as
 * single APPENDs to isolate the message the server refuses. A refusal is returned, not
 * thrown; connection errors propagate for the caller's retry. Quota exhaustion (RFC 5530 OVERQUOTA) ends the
 * batch early with `fatal` set, after the messages that fit. `shouldStop` is checked
 * between single APPENDs.
 */
export async function appendBatch(
  dest: ImapFlow,
  path: string,
  batch: OutgoingMessage[],
  opts: { multi: boolean; permanentFlags: Set<string>; appendLimit?: number; shouldStop?: () => boolean },
): Promise<BatchOutcome> {
  const outcome: BatchOutcome = { appended: [], bytes: 0, refused: [], destUids: [], headers: new Map() };
  const sendable = batch.filter((m) => withinAppendLimit(m.meta, m.body.length, opts.appendLimit, outcome));
  const appended = (list: OutgoingMessage[], uids: number[] | undefined) => {
    list.forEach((m, i) => {
      outcome.appended.push(m.meta);
      outcome.bytes += m.body.length;
      const destUid = uids?.[i];
      if (destUid !== undefined && outcome.destUids) outcome.destUids.push(destUid);
      else outcome.destUids = undefined;
      const h = headerDigestOf(m.body);
      if (h) outcome.headers!.set(m.meta.uid, h);
    });
  };
  if (sendable.length > 1 && opts.multi) {
    try {
      const r = await onSide('destination', appendRaw(dest, path, sendable, opts.permanentFlags));
      appended(sendable, r.uids);
      outcome.destUidNext = r.uidNext;
      return outcome;
    } catch (err) {
      // Over quota or one refused message: replay singly, so whatever fits is copied and
      // the refused message is isolated (the first single APPEND over quota ends the pass).
      if (!isRefusal(err)) throw err;
    }
  }
  for (const [i, m] of sendable.entries()) {
    if (i > 0 && opts.shouldStop?.()) {
      outcome.confirmedThrough = m.meta.uid - 1;
      break;
    }
    try {
      const r = await onSide('destination', appendRaw(dest, path, [m], opts.permanentFlags));
      appended([m], r.uids);
      if (r.uidNext) outcome.destUidNext = r.uidNext;
    } catch (err) {
      if (classifyImapError(err) === 'quota') {
        // Keep what was appended before this one confirmed; the caller then ends the pass.
        outcome.fatal = quotaError(err);
        outcome.confirmedThrough = m.meta.uid - 1;
        break;
      }
      if (!isRefusal(err)) throw err;
      const kind = refusalKind(err);
      if (kind === 'folder') throw folderMissing(path, err);
      // The server's trouble, not the message's: the caller retries the batch.
      if (kind === 'transient') throw err;
      const code = responseCode(err);
      outcome.refused.push({
        message: m.meta,
        size: m.body.length,
        reason: `${code ? `[${code}] ` : ''}${errorDetail(err)}`,
      });
    }
  }
  return outcome;
}

/** APPENDLIMIT (RFC 7889): the server said it refuses bigger messages; they are not sent but recorded. */
function withinAppendLimit(meta: MessageMeta, size: number, limit: number | undefined, outcome: BatchOutcome): boolean {
  if (!limit || size <= limit) return true;
  outcome.refused.push({ message: meta, size, reason: `larger than the destination APPENDLIMIT (${limit} bytes)` });
  return false;
}

/**
 * Copies a batch by piping it from the source FETCH into one destination MULTIAPPEND
 * ({@link streamCopy}: no message held in memory). When the destination refuses the
 * batch (all or none), the batch is fetched into memory and appended one by one by
 * {@link appendBatch} to isolate the message at fault (and to stop at quota after what
 * fits). The destination must offer LITERAL+ and MULTIAPPEND.
 */
export async function streamBatch(
  src: ImapFlow,
  dest: ImapFlow,
  path: string,
  batch: MessageMeta[],
  opts: { permanentFlags: Set<string>; appendLimit?: number; shouldStop?: () => boolean },
): Promise<BatchOutcome> {
  const outcome: BatchOutcome = { appended: [], bytes: 0, refused: [] };
  const sendable = batch.filter((m) => withinAppendLimit(m, m.size, opts.appendLimit, outcome));
  if (!sendable.length) return outcome;
  const byUid = new Map(sendable.map((m) => [m.uid, m]));
  try {
    const metas = new Map(
      sendable.map((m) => [m.uid, { flags: keptFlags(m.flags, opts.permanentFlags), internalDate: m.internalDate }]),
    );
    // The header of each message is read as it streams past: those with 8-bit bytes are checked after the copy.
    const scans = new Map<number, HeaderScan>();
    const onBody = (uid: number) => {
      const scan = new HeaderScan();
      scans.set(uid, scan);
      return (part: Buffer) => scan.feed(part);
    };
    const r = await streamCopy(src, dest, path, uidSet(sendable.map((m) => m.uid)), metas, onBody);
    outcome.appended = r.copied.map((u) => byUid.get(u)!);
    outcome.bytes = r.bytes;
    if (r.uids && r.uids.length === r.copied.length) outcome.destUids = r.uids;
    outcome.headers = new Map();
    for (const [uid, scan] of scans) {
      const h = scan.digest();
      if (h) outcome.headers.set(uid, h);
    }
    const last = r.uids?.[r.uids.length - 1];
    if (last) outcome.destUidNext = last + 1;
    return outcome;
  } catch (err) {
    if (errorField(err, 'side') !== 'destination' || !isRefusal(err)) throw err;
  }
  const bodies = await onSide('source', fetchBodies(src, sendable));
  const single = await appendBatch(dest, path, bodies, { ...opts, multi: false });
  return { ...single, refused: [...outcome.refused, ...single.refused] };
}
