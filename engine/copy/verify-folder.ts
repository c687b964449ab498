import type { ImapFlow } from 'imapflow';
import type { MailFolder } from './list-folders.ts';
import type { FolderMapping } from './map-folders.ts';
import type { BatchOutcome } from './copy-batch.ts';
import { uidSet } from './copy-batch.ts';
import { sha256Hex, type HeaderDigest } from './header-digest.ts';
import { fetchMeta, onSide, type FolderPlan } from './plan-folder.ts';
import {
  ALTERED_REASONS,
  type AlteredMessage,
  type CheckpointStore,
  type FolderCheckpoint,
  type FolderStats,
  type FolderVerification,
  type PassVerification,
} from './types.ts';

/** One message appended by this pass, as the verification needs it. */
interface Appended {
  uid: number;
  size: number;
  destUid?: number;
  header?: HeaderDigest;
}

/**
 * What a folder's batches appended, kept for the check at the folder's end: source UID and
 * size, the destination UID where the server said it (APPENDUID, RFC 4315), and the header
 * digests of messages whose header has 8-bit bytes. Kept per folder across the folder's
 * retries (a dropped connection re-plans the folder; what went in before stays checked).
 */
export class AppendLog {
  readonly entries: Appended[] = [];
  /** The destination's UIDNEXT before the first append of the folder (the floor where UIDs are unknown). */
  floor: number | null = null;
  /** Notes a batch's outcome. */
  add(out: BatchOutcome, destUidNextBefore: number): void {
    this.floor ??= destUidNextBefore;
    out.appended.forEach((m, i) => {
      this.entries.push({ uid: m.uid, size: m.size, destUid: out.destUids?.[i], header: out.headers?.get(m.uid) });
    });
  }
}

const logs = new WeakMap<FolderStats, AppendLog>();

/** The {@link AppendLog} of a folder of this pass (one per folder's statistics, so a retry keeps it). */
export function appendLogOf(stats: FolderStats): AppendLog {
  let log = logs.get(stats);
  if (!log) logs.set(stats, (log = new AppendLog()));
  return log;
}

/**
 * A checkpoint that makes the next plan of the folder match the whole destination folder
 * by fingerprint and copy what is not there (as after a recreated destination folder):
 * nothing is copied twice, what is missing is copied again.
 */
export function requeued(cp: FolderCheckpoint): FolderCheckpoint {
  return { ...cp, lastUid: 0, rematchAll: true, pendingToUid: null, pendingDestUidNext: null };
}

/**
 * The count check at the start of a pass, before any folder is skipped: from the STATUS
 * numbers the listing already has (no extra command), a destination folder that holds
 * fewer messages than the source had when the folder last completed (less those refused)
 * lost messages behind our back, deleted by a user or lost by the server. Such a folder
 * gets a re-match checkpoint, so this pass opens it and copies the missing messages again.
 * Returns how many were missing, by source folder.
 */
export function auditDestinations(
  mappings: FolderMapping[],
  checkpoints: Map<string, FolderCheckpoint>,
  skippedByFolder: Map<string, Set<number>>,
): Map<string, number> {
  const short = new Map<string, number>();
  for (const m of mappings) {
    const cp = checkpoints.get(m.sourceName);
    const st = m.source.status;
    const dst = m.dest?.status;
    // Only a folder that completed, into the destination folder it completed in, not in a crash recovery or a re-match
    // already.
    if (!cp || !st || !dst || cp.srcMessages < 0 || cp.rematchAll || cp.pendingToUid !== null) continue;
    if (cp.uidValidity !== st.uidValidity || cp.destUidValidity !== dst.uidValidity) continue;
    const expected = cp.srcMessages - (skippedByFolder.get(m.sourceName)?.size ?? 0);
    const missing = expected - dst.messages;
    if (missing <= 0) continue;
    short.set(m.sourceName, missing);
    checkpoints.set(m.sourceName, requeued(cp));
  }
  return short;
}

/** The verification of a folder skipped on STATUS: its counts come from the listing (no command). */
export function unchangedVerification(
  source: MailFolder,
  dest: MailFolder | undefined,
  skipped: number,
): FolderVerification {
  const expected = Math.max(0, (source.status?.messages ?? 0) - skipped);
  return { ...emptyVerification(), expected, destMessages: dest?.status?.messages ?? 0 };
}

function emptyVerification(): FolderVerification {
  return {
    expected: 0,
    destMessages: 0,
    missingAtStart: 0,
    recopied: 0,
    missing: 0,
    alteredReasons: {},
    altered: 0,
    unchecked: 0,
    commands: 0,
  };
}

/** What {@link verifyFolder} found. */
export interface FolderCheck {
  verification: FolderVerification;
  /** Messages copied by this pass the destination stored differently. */
  altered: AlteredMessage[];
}

/**
 * The check at the end of a folder's copy, on the lane's connections (the destination
 * folder still selected):
 *
 * 1. **Counts.** The destination's EXISTS, brought up to date (RFC 3501 §6.1.2) by a NOOP or,
 *    where every copy has its APPENDUID, by the size FETCH of step 2 when that finds every
 *    copy and the count is not short (the NOOP is sent otherwise), must hold at least the
 *    source's count at EXAMINE (or now, if lower: expunged meanwhile) less the refused
 *    messages. Fewer means messages went missing during the pass: the returned `missing`
 *    makes the caller re-queue the folder for a re-match.
 *    Extra destination mail (there before, merged from another folder, delivered there)
 *    is fine, and can hide a loss of the same number: counts are the cheap check.
 * 2. **Alterations** of what this pass appended: one `UID FETCH (RFC822.SIZE …)` of the
 *    copies by their APPENDUID UIDs (without them: the messages above the folder's first
 *    UIDNEXT, paired in order when their number matches), sizes compared with the
 *    source's; then, only for copies of the same size whose source header has 8-bit
 *    bytes, `BODY.PEEK[HEADER]` read back and compared with the digest taken while the
 *    message streamed (Cyrus replaces such bytes by `X` and keeps the size).
 */
export async function verifyFolder(
  src: ImapFlow,
  dest: ImapFlow,
  plan: FolderPlan,
  o: {
    sourceFolder: string;
    destFolder: string;
    skipped: number;
    missingAtStart: number;
    copied: number;
    log: AppendLog;
    exactSizes?: boolean;
  },
): Promise<FolderCheck> {
  const v = emptyVerification();
  v.missingAtStart = o.missingAtStart;
  v.recopied = Math.min(o.missingAtStart, o.copied);
  const counts = countCheck(src, dest, plan, o.skipped, v);
  const pairs = await pairCopies(dest, plan, o, v, counts);
  const altered = o.exactSizes !== false && o.log.entries.length > 0 ? await compareCopies(dest, pairs, o, v) : [];
  v.altered = altered.length;
  for (const a of altered) v.alteredReasons[a.reason] = (v.alteredReasons[a.reason] ?? 0) + 1;
  return { verification: v, altered };
}

type VerifyOptions = Parameters<typeof verifyFolder>[3];
type CopyPair = { e: Appended; destUid: number; destSize?: number };

/**
 * The count check (step 1), on the message counts as the connections know them now: `count`
 * reads them, `noop` brings the destination's up to date first (one command).
 */
function countCheck(src: ImapFlow, dest: ImapFlow, plan: FolderPlan, skipped: number, v: FolderVerification) {
  const count = () => {
    const box = dest.mailbox;
    v.destMessages = box && box.path === plan.dest.path ? box.exists : plan.dest.exists;
    const srcNow = src.mailbox && src.mailbox.path ? src.mailbox.exists : plan.found;
    v.expected = Math.max(0, Math.min(plan.found, srcNow) - skipped);
    v.missing = Math.max(0, v.expected - v.destMessages);
  };
  const noop = async () => {
    await onSide('destination', dest.noop());
    v.commands++;
    count();
  };
  return { count, noop };
}

/**
 * Counts (step 1) and pairs each copy of this pass with its destination UID and size (the
 * first half of step 2). Copies that cannot be paired are counted as unchecked.
 */
async function pairCopies(
  dest: ImapFlow,
  plan: FolderPlan,
  o: VerifyOptions,
  v: FolderVerification,
  counts: ReturnType<typeof countCheck>,
): Promise<CopyPair[]> {
  const entries = o.log.entries;
  const known = entries.filter((e) => e.destUid !== undefined);
  const compared = o.exactSizes !== false && entries.length > 0;
  if (compared && known.length === entries.length) {
    // Every copy has its APPENDUID: the size FETCH comes first and, when it finds every copy
    // and the count (brought up to date by the EXISTS and EXPUNGE answers of the APPENDs and
    // of this UID FETCH) is not short, it stands for the NOOP: one round trip instead of two.
    const pairs = await sizesByUid(dest, known);
    v.commands++;
    counts.count();
    if (v.missing > 0 || pairs.some((p) => p.destSize === undefined)) await counts.noop();
    return pairs;
  }
  await counts.noop();
  if (!compared) {
    // Sizes that are estimates (Microsoft 365) cannot show a change: counted, not compared.
    if (o.exactSizes === false) v.unchecked = entries.length;
    return [];
  }
  if (known.length) {
    const pairs = await sizesByUid(dest, known);
    v.commands++;
    // A batch the server acknowledged without APPENDUID, beside others with it: not compared.
    v.unchecked = entries.length - known.length;
    return pairs;
  }
  // No APPENDUID at all: the destination messages above the folder's first UIDNEXT are
  // ours, in the order appended, unless something else arrived meanwhile (then they
  // cannot be told apart).
  const floor = o.log.floor ?? plan.dest.uidNext;
  const after = await onSide('destination', fetchMeta(dest, `${floor}:*`, false, floor));
  v.commands++;
  const pairs =
    after.length === entries.length
      ? entries.flatMap((e, i) => {
          const d = after[i];
          return d ? [{ e, destUid: d.uid, destSize: d.size }] : [];
        })
      : [];
  if (!pairs.length) v.unchecked = entries.length;
  return pairs;
}

/**
 * Compares the paired copies with their sources (the second half of step 2): sizes, then
 * the header read back where the source header has 8-bit bytes and the size is the same.
 */
async function compareCopies(
  dest: ImapFlow,
  pairs: CopyPair[],
  o: VerifyOptions,
  v: FolderVerification,
): Promise<AlteredMessage[]> {
  const altered: AlteredMessage[] = [];
  const headerChecks: { e: Appended; destUid: number; header: NonNullable<Appended['header']> }[] = [];
  for (const p of pairs) {
    // Gone meanwhile: the count check speaks for it.
    if (p.destSize === undefined) continue;
    if (p.destSize !== p.e.size) altered.push(record(o, p.e, p.destUid, p.destSize, ALTERED_REASONS.size));
    else if (p.e.header) headerChecks.push({ e: p.e, destUid: p.destUid, header: p.e.header });
  }
  if (!headerChecks.length) return altered;
  const back = new Map<number, Buffer>();
  for await (const m of dest.fetch(
    uidSet(headerChecks.map((h) => h.destUid)),
    { uid: true, headers: true },
    { uid: true },
  ))
    if (m.headers) back.set(m.uid, m.headers);
  v.commands++;
  for (const h of headerChecks) {
    const got = back.get(h.destUid);
    if (!got) continue;
    const sha = sha256Hex(got);
    if (sha === h.header.sha) continue;
    const reason = sha === h.header.munged ? ALTERED_REASONS.eightBit : ALTERED_REASONS.header;
    altered.push(record(o, h.e, h.destUid, h.e.size, reason));
  }
  return altered;
}

/** The sizes of copies by their APPENDUID UIDs (RFC 4315): one `UID FETCH (RFC822.SIZE …)`. */
async function sizesByUid(
  dest: ImapFlow,
  known: Appended[],
): Promise<{ e: Appended; destUid: number; destSize?: number }[]> {
  const sizes = new Map<number, number>();
  for (const m of await onSide('destination', fetchMeta(dest, uidSet(known.map((e) => e.destUid!)), false, 1)))
    sizes.set(m.uid, m.size);
  return known.map((e) => ({ e, destUid: e.destUid!, destSize: sizes.get(e.destUid!) }));
}

/**
 * {@link verifyFolder}, with its results kept: the folder's statistics get the
 * verification, altered messages go to the store, and a folder found short is re-queued
 * (`requeue` writes the re-match checkpoint) so the next pass copies what is missing.
 */
export async function verifyFolderEnd(
  src: ImapFlow,
  dest: ImapFlow,
  plan: FolderPlan,
  o: Parameters<typeof verifyFolder>[3] & {
    stats: FolderStats;
    itemId: string;
    store: CheckpointStore;
    requeue: () => Promise<void>;
    /** A checkpoint write still under way (the folder's completion): the results are kept after it. */
    after?: Promise<void>;
  },
): Promise<void> {
  const check = await verifyFolder(src, dest, plan, o);
  await o.after;
  o.stats.verification = check.verification;
  if (check.altered.length) await o.store.recordAltered?.(o.itemId, check.altered);
  if (check.verification.missing) await o.requeue();
}

function record(
  o: { sourceFolder: string; destFolder: string },
  e: Appended,
  destUid: number,
  destSize: number,
  reason: string,
): AlteredMessage {
  return {
    sourceFolder: o.sourceFolder,
    uid: e.uid,
    destFolder: o.destFolder,
    destUid,
    sourceSize: e.size,
    destSize,
    reason,
  };
}

/** The pass's verification from its folders' ({@link FolderStats.verification}). */
export function summarizeVerification(folders: FolderStats[]): PassVerification {
  const out: PassVerification = {
    foldersChecked: 0,
    foldersShort: [],
    missingAtStart: 0,
    recopied: 0,
    missing: 0,
    altered: 0,
    alteredReasons: {},
    unchecked: 0,
    commands: 0,
  };
  for (const f of folders) {
    const v = f.verification;
    if (!v) continue;
    out.foldersChecked++;
    out.missingAtStart += v.missingAtStart;
    out.recopied += v.recopied;
    out.missing += v.missing;
    out.altered += v.altered;
    out.unchecked += v.unchecked;
    out.commands += v.commands;
    for (const [r, n] of Object.entries(v.alteredReasons)) out.alteredReasons[r] = (out.alteredReasons[r] ?? 0) + n;
    if (v.missingAtStart || v.missing)
      out.foldersShort.push({
        folder: f.sourceFolder,
        missingAtStart: v.missingAtStart,
        recopied: v.recopied,
        missing: v.missing,
      });
  }
  return out;
}
