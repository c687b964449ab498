import type { ImapFlow, MailboxObject } from 'imapflow';
import { createFolder, subscribeLater, type Created } from '../connectors/imap/create-folder.ts';
import { errorField } from '../connectors/imap/classify-error.ts';
import { fetchMetaRaw } from '../connectors/imap/fetch-meta.ts';
import { hasBridge } from '../connectors/imap/imapflow-bridge.ts';
import { emptyCheckpoint } from './checkpoint.ts';
import { FINGERPRINT_HEADERS, FingerprintBag, fingerprintOf } from './fingerprint.ts';
import type { FolderMapping } from './map-folders.ts';
import { CopyError, inWindow, type DateWindow, type FolderCheckpoint } from './types.ts';

/** What the engine knows of a source message before fetching its body. */
export interface MessageMeta {
  uid: number;
  size: number;
  internalDate: Date;
  /** Flags and keywords, without `\Recent` (it cannot be set, RFC 3501 §2.3.2). */
  flags: string[];
}

/** The work of one folder in this pass. */
export interface FolderPlan {
  /** Source messages to append, in UID order (refused ones retried first: their UIDs are ≤ the checkpoint). */
  toCopy: MessageMeta[];
  /** Refused earlier and retried now ({@link FolderPlan.toCopy} holds them). */
  retrying: Set<number>;
  /** Refused earlier, found at the destination now (copied before a crash, or healed): their skip records go. */
  retryFound: number[];
  found: number;
  bytesFound: number;
  /** Messages already at the destination (earlier passes or matched now). */
  present: number;
  /** Highest source UID seen. */
  maxUid: number;
  /**
   * Source messages above the checkpoint this pass leaves out: outside its date window and
   * not at the destination. They are neither copied nor counted present.
   */
  leftOut: number;
  /**
   * The checkpoint's `lastUid` may move up to this UID and no further: {@link FolderPlan.maxUid},
   * or just below the first message left out (a later pass must still find it above `lastUid`).
   */
  confirmThrough: number;
  /** Source UIDNEXT at SELECT time: the next pass skips the folder when it is unchanged. */
  srcUidNext: number;
  /**
   * Source HIGHESTMODSEQ at EXAMINE time (CONDSTORE, RFC 7162), null when the session has
   * no mod-sequences: recorded when the folder completes, the next flag sync starts from it.
   */
  srcHighestModseq: bigint | null;
  /**
   * Source UIDs up to this one were at the destination before this pass: their flags are
   * synced (0: nothing to sync, e.g. a new folder or a whole-folder match).
   */
  flagSyncThroughUid: number;
  /** Checkpoint to continue from (reset when a UIDVALIDITY changed; `rematchAll` set when matching). */
  checkpoint: FolderCheckpoint;
  dest: { path: string; uidValidity: bigint; uidNext: number; exists: number; permanentFlags: Set<string> };
}

/** Tags an error with the side it came from, so a failure names the right server. */
export function onSide<T>(side: 'source' | 'destination', p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err && typeof err === 'object' && !('side' in err)) Object.assign(err, { side });
    throw err;
  });
}

/**
 * `UID FETCH range (UID RFC822.SIZE INTERNALDATE FLAGS [headers])`, with `(CHANGEDSINCE n)`
 * (RFC 7162 §3.1.4) when `changedSince` is given: the caller must know CONDSTORE is enabled
 * on the session, imapflow silently drops the modifier otherwise.
 */
export async function fetchMeta(
  client: ImapFlow,
  range: string,
  withHeaders: boolean,
  minUid: number,
  changedSince?: bigint,
  exactSizes = true,
): Promise<(MessageMeta & { fp?: string })[]> {
  if (!withHeaders && changedSince === undefined && hasBridge(client)) {
    // The common case (what to copy): our own line parser, a fraction of imapflow's CPU.
    try {
      const raw = await fetchMetaRaw(client, range);
      return raw
        .filter((m) => m.uid >= minUid)
        .map((m) => ({ ...m, flags: m.flags.filter((f) => f.toLowerCase() !== '\\recent') }))
        .sort((a, b) => a.uid - b.uid);
    } catch (err) {
      if (errorField(err, 'code') !== 'UNPARSEABLE') throw err;
    }
  }
  const out: (MessageMeta & { fp?: string })[] = [];
  const query = {
    uid: true,
    size: true,
    internalDate: true,
    flags: true,
    ...(withHeaders ? { headers: FINGERPRINT_HEADERS } : {}),
  };
  for await (const m of client.fetch(range, query, {
    uid: true,
    ...(changedSince !== undefined ? { changedSince } : {}),
  })) {
    // `n:*` also returns the highest message when n is above it (RFC 3501 §6.4.8): filter.
    if (m.uid < minUid) continue;
    const internalDate = new Date(m.internalDate ?? 0);
    out.push({
      uid: m.uid,
      size: m.size ?? 0,
      internalDate,
      flags: [...(m.flags ?? [])].filter((f) => f.toLowerCase() !== '\\recent'),
      ...(withHeaders
        ? { fp: fingerprintOf({ size: m.size ?? 0, internalDate, headers: m.headers }, exactSizes) }
        : {}),
    });
  }
  return out.sort((a, b) => a.uid - b.uid);
}

/**
 * UIDNEXT of the selected mailbox. SELECT's `[UIDNEXT]` is optional (RFC 3501 §6.3.1;
 * Courier sends none): then STATUS (UIDNEXT), and failing that the highest UID + 1 (a
 * lower bound: UIDs of expunged messages above it are not seen; as the floor of a
 * crash-recovery match a lower bound only widens the match).
 */
export async function uidNextOf(client: ImapFlow, box: MailboxObject): Promise<number> {
  if (box.uidNext) return box.uidNext;
  const st = await client.status(box.path, { uidNext: true }).catch(() => null);
  if (st && st.uidNext) return st.uidNext;
  if (!box.exists) return 1;
  let max = 0;
  for await (const m of client.fetch('*', { uid: true })) max = Math.max(max, m.uid);
  return max + 1;
}

/**
 * Opens (creating it if needed) and SELECTs the destination folder; `createdBefore`: this pass created it before its
 * lanes started (run-pass.ts), so only a TRYCREATE (`create`) creates it again. A folder created here is
 * subscribed after its SELECT, without waiting: the SUBSCRIBE goes while the plan goes on (the
 * destination's next command waits for it in imapflow's queue, a socket loan until it is answered).
 */
export async function openDestination(
  dest: ImapFlow,
  mapping: FolderMapping,
  create = false,
  createdBefore = false,
): Promise<MailboxObject> {
  let created: Created | null = null;
  if (create || (!createdBefore && (!mapping.dest || !mapping.dest.selectable))) {
    try {
      created = await createFolder(dest, mapping.destSegments);
    } catch (err) {
      // ALREADYEXISTS (RFC 5530) is fine: another pass or lane created it.
      const text = errorField(err, 'responseText');
      if (!/ALREADYEXISTS/i.test(errorField(err, 'serverResponseCode') ?? '') && !/exists/i.test(text ?? '')) {
        // A refused name (NO/BAD) will be refused again: no retry, the folder is reported and skipped.
        const status = errorField(err, 'responseStatus');
        if (status === 'NO' || status === 'BAD') {
          throw new CopyError(
            'FOLDER_REFUSED',
            'Internal',
            `the destination refused to create folder ${mapping.destName}: ${text ?? 'no reason given'}`,
            { cause: err },
          );
        }
        throw err;
      }
    }
  }
  // SELECT (not just APPEND to a path): Dovecot appends several times faster to the
  // selected mailbox, and PERMANENTFLAGS (RFC 3501 §7.1) tells which keywords it keeps.
  const box = await dest.mailboxOpen(mapping.destSegments);
  if (created?.subscribe) void subscribeLater(dest, created.path);
  return box;
}

/**
 * Where a folder's copy starts: the checkpoint to continue from, and whether every source
 * message is matched against the whole destination folder (`rematchAll`).
 */
function startingPoint(
  mapping: FolderMapping,
  previous: FolderCheckpoint | undefined,
  srcBox: MailboxObject,
  destBox: DestView,
): FolderCheckpoint {
  let cp: FolderCheckpoint;
  let rematchAll = false;
  if (!previous || previous.uidValidity !== srcBox.uidValidity) {
    // New folder, or the source renumbered its UIDs (RFC 3501 §2.3.1.1): start over,
    // but re-match instead of re-copying whatever the destination already holds.
    cp = {
      ...emptyCheckpoint(mapping.sourceName, mapping.destName, srcBox.uidValidity),
      ...(previous ? pickTotals(previous) : {}),
    };
    rematchAll = destBox.exists > 0;
  } else if (previous.destUidValidity !== null && previous.destUidValidity !== destBox.uidValidity) {
    // The destination folder was recreated: what we appended may be gone. Never a loss:
    // start from UID 1 again, matching against what is there now.
    cp = { ...previous, lastUid: 0, pendingToUid: null, pendingDestUidNext: null };
    rematchAll = destBox.exists > 0;
  } else {
    cp = { ...previous };
    rematchAll = previous.rematchAll && destBox.exists > 0;
  }
  cp.destFolder = mapping.destName;
  cp.rematchAll = rematchAll;
  return cp;
}

/** How the destination folder of a plan is opened. */
export interface DestOpening {
  /** The destination said the folder is missing (TRYCREATE): it is created first. */
  createDest?: boolean;
  /** Whether this pass created the folder before its lanes started (asked once `destReady` settles). */
  destCreated?: () => boolean;
  /** The destination connection is not used before this settles (the pass's CREATEs, run-pass.ts). */
  destReady?: Promise<unknown>;
}

/** Both folders open: the source EXAMINEd, the destination SELECTed (created if needed), with their UIDNEXTs. */
interface OpenFolders {
  srcBox: MailboxObject;
  srcUidNext: number;
  destBox: MailboxObject;
  /** The destination folder's UIDVALIDITY (a folder without one cannot be copied into). */
  destUidValidity: bigint;
  destUidNext: number;
}

/**
 * The two sides are opened at once (each its own connection); the source's error wins when
 * both fail. `how`: whether the destination folder is to be created, or was by this pass
 * (see {@link openDestination}). `afterSource` runs on the source as soon as it is open,
 * while the destination may still be opening; both have settled when this returns or throws.
 */
async function openBoth<T>(
  src: ImapFlow,
  dest: ImapFlow,
  mapping: FolderMapping,
  how: DestOpening,
  afterSource: (box: MailboxObject, uidNext: number) => Promise<T>,
): Promise<OpenFolders & { early: T }> {
  const openSrc = async () => {
    const box = await onSide('source', src.mailboxOpen(mapping.source.path, { readOnly: true }));
    const uidNext = await onSide('source', uidNextOf(src, box));
    return { box, uidNext, early: await afterSource(box, uidNext) };
  };
  const openDest = async () => {
    await how.destReady;
    const box = await onSide('destination', openDestination(dest, mapping, how.createDest, !!how.destCreated?.()));
    if (!box.uidValidity) throw new CopyError('NO_UIDVALIDITY', 'Internal', 'destination folder has no UIDVALIDITY');
    return { box, uidNext: await onSide('destination', uidNextOf(dest, box)) };
  };
  const [s, d] = await Promise.allSettled([openSrc(), openDest()]);
  if (s.status === 'rejected') throw s.reason;
  if (d.status === 'rejected') throw d.reason;
  return {
    srcBox: s.value.box,
    srcUidNext: s.value.uidNext,
    early: s.value.early,
    destBox: d.value.box,
    destUidValidity: d.value.box.uidValidity!,
    destUidNext: d.value.uidNext,
  };
}

/** The destination folder as a plan's start depends on it. */
interface DestView {
  exists: number;
  uidValidity?: bigint;
}

/**
 * The destination folder as the listing left it (its STATUS), or empty when it is to be
 * created; null when the listing did not say.
 */
function expectedDest(mapping: FolderMapping, o: DestOpening): DestView | null {
  if (o.createDest || o.destCreated?.() || !mapping.dest || !mapping.dest.selectable) return { exists: 0 };
  const st = mapping.dest.status;
  return st ? { exists: st.messages, uidValidity: st.uidValidity } : null;
}

/** Where the source is read from, given the destination folder. */
interface Start {
  cp: FolderCheckpoint;
  pending: { toUid: number; floor: number } | null;
  startUid: number;
  /** Refused earlier (below the checkpoint): tried again. */
  retryUids: number[];
  withHeaders: boolean;
  /** The refused UIDs that still name the same messages. */
  skippedUids: Set<number>;
}

function startOf(
  mapping: FolderMapping,
  previous: FolderCheckpoint | undefined,
  skipped: Set<number>,
  srcBox: MailboxObject,
  dest: DestView,
): Start {
  // Skipped UIDs recorded under another UIDVALIDITY name other messages now.
  const skippedUids = previous && previous.uidValidity !== srcBox.uidValidity ? new Set<number>() : skipped;
  const cp = startingPoint(mapping, previous, srcBox, dest);
  const rematchAll = cp.rematchAll;
  // An intent without a destination floor (written by versions that took a missing SELECT
  // UIDNEXT for none) is matched against the whole destination folder: never a duplicate.
  const pending =
    !rematchAll && cp.pendingToUid !== null ? { toUid: cp.pendingToUid, floor: cp.pendingDestUidNext ?? 1 } : null;
  const startUid = rematchAll ? 1 : cp.lastUid + 1;
  // Refused earlier (below the checkpoint): tried again on every pass. Whatever of them is at
  // the destination already (appended just before a crash, or by an earlier try) is found
  // by fingerprint against the whole destination folder, once the copies of the messages the
  // checkpoint covers are counted out (each is there once): a true duplicate of one of those
  // is not taken for present.
  const retryUids = rematchAll ? [] : [...skippedUids].filter((u) => u < startUid).sort((a, b) => a - b);
  const withHeaders = rematchAll || pending !== null || retryUids.length > 0;
  return { cp, pending, startUid, retryUids, withHeaders, skippedUids };
}

/** What a source read depends on: two starts with the same key read the same. */
const readKey = (s: Start) => `${s.startUid}/${s.withHeaders}/${s.retryUids.join(',')}`;

/** The source messages a plan looks at: above the start, and the refused ones tried again. */
interface SourceRead {
  key: string;
  metas: (MessageMeta & { fp?: string })[];
  retryMetas: (MessageMeta & { fp?: string })[];
}

async function readSource(
  src: ImapFlow,
  srcBox: MailboxObject,
  srcUidNext: number,
  start: Start,
  exact: boolean,
): Promise<SourceRead> {
  const { startUid, withHeaders, retryUids } = start;
  // With refused messages to try again, the source is read from UID 1: the copies of the
  // messages the checkpoint covers are counted out of the destination's fingerprints first
  // (see planFolder), so a true duplicate of one of those is not taken for present.
  const fetchFrom = retryUids.length ? 1 : startUid;
  const fetched =
    srcBox.exists > 0 && fetchFrom < srcUidNext
      ? await onSide('source', fetchMeta(src, `${fetchFrom}:*`, withHeaders, fetchFrom, undefined, exact))
      : [];
  const retried = new Set(retryUids);
  const retryMetas = fetched.filter((m) => retried.has(m.uid));
  const metas = fetched.filter((m) => !retried.has(m.uid));
  return { key: readKey(start), metas, retryMetas };
}

/** What is to be copied of a folder's messages, once matched against the destination. */
interface Matched {
  toCopy: MessageMeta[];
  retrying: Set<number>;
  retryFound: number[];
  maxUid: number;
  leftOut: number;
  /** The lowest UID left out (outside the date window and not at the destination); Infinity when none. */
  firstLeftOut: number;
}

const metaOf = (m: MessageMeta): MessageMeta => ({
  uid: m.uid,
  size: m.size,
  internalDate: m.internalDate,
  flags: m.flags,
});

/**
 * Decides message by message: refused ones tried again unless found at the destination;
 * above the checkpoint, copied unless they may be there already (a whole-folder match, or
 * the unconfirmed pending range) and the destination's fingerprints (`bag`) vouch for them,
 * or unless their INTERNALDATE is outside the pass's date window (left out, for a later pass).
 */
function matchMessages(
  metas: (MessageMeta & { fp?: string })[],
  retryMetas: (MessageMeta & { fp?: string })[],
  bag: FingerprintBag,
  cp: FolderCheckpoint,
  pending: { toUid: number } | null,
  dates: DateWindow | undefined,
  skipped: Set<number>,
): Matched {
  const out: Matched = {
    toCopy: [],
    retrying: new Set(),
    retryFound: [],
    maxUid: cp.lastUid,
    leftOut: 0,
    firstLeftOut: Infinity,
  };
  // Already handled (at or below the checkpoint, not refused): each copy consumes one
  // destination occurrence first, so a true duplicate of it is not mistaken for present.
  for (const m of metas) if (m.uid <= cp.lastUid && !skipped.has(m.uid)) bag.take(m.fp!);
  for (const m of retryMetas) {
    if (bag.take(m.fp!)) out.retryFound.push(m.uid);
    else {
      out.retrying.add(m.uid);
      out.toCopy.push(metaOf(m));
    }
  }
  for (const m of metas) {
    out.maxUid = Math.max(out.maxUid, m.uid);
    if (m.uid <= cp.lastUid) continue; // counted out above
    const mayBeThere = cp.rematchAll || (pending !== null && m.uid <= pending.toUid);
    if (mayBeThere && bag.take(m.fp!)) continue;
    if (!inWindow(dates, m.internalDate)) {
      out.leftOut++;
      out.firstLeftOut = Math.min(out.firstLeftOut, m.uid);
      continue;
    }
    out.toCopy.push(metaOf(m));
  }
  return out;
}

/**
 * Plans one folder: EXAMINEs the source (read-only, RFC 3501 §6.3.2), SELECTs the
 * destination, and decides which source messages to append. Messages above the
 * checkpoint are copied, except those the destination already holds: after a crash
 * (UIDs in the unconfirmed pending range, matched against destination UIDs appended
 * since), on a first pass into a non-empty folder, or after a UIDVALIDITY change
 * (everything matched against the whole destination folder, by fingerprint multiset).
 */
export async function planFolder(
  src: ImapFlow,
  dest: ImapFlow,
  mapping: FolderMapping,
  previous: FolderCheckpoint | undefined,
  skippedUids: Set<number>,
  opts: DestOpening & { exactSizes?: boolean; dates?: DateWindow } = {},
): Promise<FolderPlan> {
  const exact = opts.exactSizes ?? true;
  // The source is read as soon as it is open, while the destination is still being created
  // and SELECTed, from where the destination the listing saw makes the plan start; read
  // again in the rare case the destination, once open, makes it start elsewhere.
  const guess = expectedDest(mapping, opts);
  const { srcBox, srcUidNext, destBox, destUidValidity, destUidNext, early } = await openBoth(
    src,
    dest,
    mapping,
    opts,
    async (box, uidNext): Promise<SourceRead | null> =>
      guess ? readSource(src, box, uidNext, startOf(mapping, previous, skippedUids, box, guess), exact) : null,
  );
  const start = startOf(mapping, previous, skippedUids, srcBox, destBox);
  const { cp, pending, retryUids } = start;
  skippedUids = start.skippedUids;
  const rematchAll = cp.rematchAll;
  cp.destUidValidity = destUidValidity;
  const { metas, retryMetas } =
    early && early.key === readKey(start) ? early : await readSource(src, srcBox, srcUidNext, start, exact);

  const bag = new FingerprintBag();
  if (rematchAll || pending || retryMetas.length) {
    const floor = rematchAll || retryMetas.length || !pending ? 1 : pending.floor;
    if (destBox.exists > 0 && floor < destUidNext) {
      for (const d of await onSide('destination', fetchMeta(dest, `${floor}:*`, true, floor, undefined, exact)))
        bag.add(d.fp!);
    }
  }
  const matched = matchMessages(metas, retryMetas, bag, cp, pending, opts.dates, skippedUids);
  const { toCopy, retrying, retryFound, maxUid, leftOut, firstLeftOut } = matched;
  // Refused UIDs still refused (neither retried nor found) are those expunged at the source since.
  const skippedHere = retryUids.length - retrying.size - retryFound.length;
  const found = srcBox.exists;
  // Mod-sequences only where CONDSTORE is enabled on the session and the folder keeps them (no NOMODSEQ).
  const modseqs =
    src.enabled.has('CONDSTORE') && !srcBox.noModseq && srcBox.highestModseq ? BigInt(srcBox.highestModseq) : null;
  const bytesFound = mapping.source.status?.size ?? metas.reduce((s, m) => s + m.size, 0);
  return {
    toCopy,
    retrying,
    retryFound,
    found,
    bytesFound,
    present: Math.max(0, found - toCopy.length - skippedHere - leftOut),
    maxUid,
    leftOut,
    confirmThrough: Math.min(maxUid, firstLeftOut - 1),
    srcUidNext,
    srcHighestModseq: modseqs,
    // A whole-folder match leaves the flags of matched mail as the destination has them. The
    // pending range counts too: a date-filtered pass leaves its copies there, and their source
    // flags may change before the pass that confirms them (copies not made yet have no pair).
    flagSyncThroughUid: rematchAll ? 0 : Math.max(cp.lastUid, pending?.toUid ?? 0),
    checkpoint: cp,
    dest: {
      path: destBox.path,
      uidValidity: destUidValidity,
      uidNext: destUidNext,
      exists: destBox.exists,
      permanentFlags: destBox.permanentFlags ?? new Set(),
    },
  };
}

function pickTotals(p: FolderCheckpoint): Partial<FolderCheckpoint> {
  return {
    messagesCopied: p.messagesCopied,
    bytesCopied: p.bytesCopied,
    messagesPresent: p.messagesPresent,
    messagesSkipped: p.messagesSkipped,
  };
}
