import type { FolderMapping } from './map-folders.ts';
import { emptyStats, type PassState } from './pass-state.ts';
import type { FolderCheckpoint, FolderStats } from './types.ts';
import { unchangedVerification } from './verify-folder.ts';

/** An estimate of the messages (and bytes) a folder has to copy; infinite when STATUS did not tell. */
export interface FolderWork {
  messages: number;
  bytes: number;
}

/** One folder to open in this pass. */
export interface FolderJob {
  mapping: FolderMapping;
  stats: FolderStats;
  /** Bytes (else messages) in the source folder: the biggest go first. */
  weight: number;
  /**
   * What is there to copy, estimated from STATUS and the checkpoint before the folder is opened (lanes are opened for
   * it).
   */
  work: FolderWork;
  /** The destination said the folder is missing (TRYCREATE): the next attempt creates it first. */
  createDest?: boolean;
  /** The destination folder was created by this pass before the lanes started (run-pass.ts): empty then, no CREATE. */
  destCreated?: boolean;
}

/**
 * The source STATUS matches the checkpoint of the folder's last completion on both sides:
 * nothing to copy and no flag to carry, so the folder needs no SELECT at all.
 */
function unchangedSince(m: FolderMapping, cp: FolderCheckpoint | undefined, skippedHere: number): boolean {
  const st = m.source.status;
  const dst = m.dest?.status;
  // A folder with refused messages is opened on every pass: they are tried again.
  if (skippedHere !== 0 || !cp || !st || !dst || !m.dest?.selectable) return false;
  const sameStatus =
    cp.uidValidity === st.uidValidity &&
    !cp.rematchAll &&
    cp.pendingToUid === null &&
    cp.srcUidNext === st.uidNext &&
    cp.srcMessages === st.messages &&
    cp.destUidValidity === dst.uidValidity;
  // CONDSTORE (RFC 7162): a higher HIGHESTMODSEQ means flags changed; the folder is opened for a flag sync.
  return (
    sameStatus &&
    (st.highestModseq === undefined || cp.srcHighestModseq === null || st.highestModseq === cp.srcHighestModseq)
  );
}

/**
 * What a changed folder has to copy, from the STATUS of the listing: every UID above the
 * checkpoint's confirmed one (at most the folder's message count) and the refused messages
 * tried again; the whole folder when it was never copied, changed UIDVALIDITY or is to be
 * matched again. Bytes in proportion, where STATUS gave the folder's size (RFC 8438).
 */
function workOf(m: FolderMapping, cp: FolderCheckpoint | undefined, skippedHere: number): FolderWork {
  const st = m.source.status;
  if (!st) return { messages: Infinity, bytes: Infinity };
  const resumed = cp && cp.uidValidity === st.uidValidity && !cp.rematchAll && st.uidNext > 0;
  const messages = resumed
    ? Math.min(st.messages, Math.max(0, st.uidNext - 1 - cp.lastUid) + skippedHere)
    : st.messages;
  const bytes = st.size && st.messages > 0 ? Math.round((st.size * messages) / st.messages) : 0;
  return { messages, bytes };
}

/**
 * Registers every mapped folder's statistics with the pass and returns the folders to
 * open, biggest first (so the last lane to finish does not start a huge one). A folder
 * unchanged since its checkpoint is counted done from its STATUS alone.
 */
export function folderJobs(pass: PassState, mappings: FolderMapping[]): FolderJob[] {
  const jobs: FolderJob[] = [];
  for (const m of mappings) {
    const stats = emptyStats(m.sourceName, m.destName);
    pass.folders.push(stats);
    const cp = pass.checkpoints.get(m.sourceName);
    const st = m.source.status;
    const skippedHere = pass.skippedByFolder.get(m.sourceName)?.size ?? 0;
    if (cp && st && unchangedSince(m, cp, skippedHere)) {
      stats.unchanged = true;
      stats.messagesFound = st.messages;
      stats.bytesFound = st.size ?? cp.srcBytes;
      stats.messagesSkipped = skippedHere;
      stats.messagesPresent = Math.max(0, st.messages - skippedHere);
      stats.verification = unchangedVerification(m.source, m.dest, skippedHere);
      pass.foldersDone++;
      continue;
    }
    // Found counts are known before the folder is planned: progress never reads 100% of a part.
    // Without them (no LIST-STATUS or STATUS), the folder is counted when planned and progress says so.
    if (st?.messages === undefined) pass.uncounted.add(m.sourceName);
    stats.messagesFound = st?.messages ?? 0;
    stats.bytesFound = st?.size ?? 0;
    jobs.push({ mapping: m, stats, weight: st?.size ?? st?.messages ?? 0, work: workOf(m, cp, skippedHere) });
  }
  jobs.sort((a, b) => b.weight - a.weight);
  return jobs;
}
