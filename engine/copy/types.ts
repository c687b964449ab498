import type { ConnectorEndpoint } from '../connectors/types.ts';
import type { PaceClock } from './pacer.ts';

/** Folder selection and renaming. Paths use `/` as separator whatever the servers use. */
export interface FolderRules {
  /** Glob patterns (`*` = anything); a folder is copied only if one matches (a pattern also covers the subtree). */
  include?: string[];
  /** Glob patterns of folders (and their subtrees) not to copy. */
  exclude?: string[];
  /** Source path (or path prefix) → destination path, e.g. `{ 'Old Archive': 'Archive/Old' }`. */
  rename?: Record<string, string>;
}

/**
 * Which messages a pass copies, by INTERNALDATE (RFC 3501 §2.3.3): those at or after `since`
 * and before `before` (either bound may be absent). A pre-stage pass sets `before` to its
 * cutoff; a project's date range sets both. Messages left out stay for a later pass (see
 * "Date-filtered passes" in README.md).
 */
export interface DateWindow {
  since?: Date;
  before?: Date;
}

/** Whether a message's INTERNALDATE is inside the window (no window: every message). */
export function inWindow(w: DateWindow | undefined, internalDate: Date): boolean {
  if (!w) return true;
  const t = internalDate.getTime();
  return (!w.since || t >= w.since.getTime()) && (!w.before || t < w.before.getTime());
}

/** Tuning of a pass. */
export interface PassOptions {
  /** Parallel connection pairs at most. Default 4. */
  connections?: number;
  /**
   * Messages to copy that justify one more connection pair (a lane, two logins): a pass
   * opens one lane per this many (or per 32 MiB), up to `connections`. Default 500: a small
   * mailbox is copied over one source and one destination login.
   */
  messagesPerLane?: number;
  /** Errors (refused messages, retried failures) tolerated before the pass fails. Default 100. */
  maxErrors?: number;
  /** Messages per MULTIAPPEND batch. Default 50. */
  batchMessages?: number;
  /** Bytes per batch (a single larger message goes alone). Default 4 MiB. */
  batchBytes?: number;
  /**
   * Message bytes held in memory at once across all connections (a larger single message goes alone). Default 8 MiB.
   */
  memoryBudgetBytes?: number;
  /** Interval of progress events. Default 3000 ms. */
  progressIntervalMs?: number;
  /** Attempts of a folder after dropped connections before the pass fails. Default 8. */
  maxRetries?: number;
  /** First backoff delay (doubles up to 30 s). Default 500 ms. */
  retryBaseMs?: number;
  /** Use MULTIAPPEND (RFC 3502) when the destination offers it. Default true. */
  multiAppend?: boolean;
  /** Pipe each batch from the source FETCH into the destination APPEND when it offers LITERAL+ (default true). */
  stream?: boolean;
  /**
   * A lane with no folder left joins a folder in progress and sends part of its batches
   * (default true); only where the destination answers APPENDUID (RFC 4315).
   */
  splitFolders?: boolean;
  /** At most this many messages an hour (a provider's limit, e.g. 3600 for Office 365); unlimited by default. */
  maxMessagesPerHour?: number;
}

/** Input of {@link runPass}. */
export interface PassInput {
  itemId: string;
  source: ConnectorEndpoint;
  destination: ConnectorEndpoint;
  rules?: FolderRules;
  /** Copy only messages whose INTERNALDATE is inside this window (absent: every message). */
  dates?: DateWindow;
  signal?: AbortSignal;
  checkpoints: CheckpointStore;
  onProgress?: (p: PassProgress) => void;
  options?: PassOptions;
  /** The clock of the rate pacing (`maxMessagesPerHour`); the wall clock unless a test gives its own. */
  paceClock?: PaceClock;
}

/** Counters of one folder or of the whole item, for this pass. */
export interface CopyCounters {
  /** Messages (and bytes) in the source now. */
  messagesFound: number;
  bytesFound: number;
  /** Appended by this pass. */
  messagesCopied: number;
  bytesCopied: number;
  /** Already at the destination (copied by an earlier pass, or there before the first). */
  messagesPresent: number;
  /** Refused by the destination (this pass and earlier ones; see `skipped`). */
  messagesSkipped: number;
}

/** All counters at zero. */
export const ZERO_COUNTERS: Readonly<CopyCounters> = {
  messagesFound: 0,
  bytesFound: 0,
  messagesCopied: 0,
  bytesCopied: 0,
  messagesPresent: 0,
  messagesSkipped: 0,
};

/** A message the destination refused. */
export interface SkippedMessage {
  sourceFolder: string;
  uid: number;
  size: number;
  reason: string;
}

/** A message the destination stored differently from the source (e.g. Cyrus' `munge8bit`). */
export interface AlteredMessage {
  sourceFolder: string;
  /** Source UID. */
  uid: number;
  destFolder: string;
  /** Destination UID of the copy. */
  destUid: number;
  /** RFC822.SIZE at the source and of the destination's copy. */
  sourceSize: number;
  destSize: number;
  /** What changed, in a few words ({@link ALTERED_REASONS}). */
  reason: string;
}

/** The reasons an {@link AlteredMessage} carries. */
export const ALTERED_REASONS = {
  /** Same size; the header read back equals the source's with every 8-bit byte replaced by `X`. */
  eightBit: '8-bit header bytes replaced by the server',
  /** Same size; the header read back differs otherwise. */
  header: 'headers changed by the server',
  /** The copy's RFC822.SIZE differs from the source's. */
  size: 'size changed by the server',
} as const;

/**
 * The verification of one folder at the end of its part of a pass: does the destination
 * hold at least as many messages as the source has that must be there, and did the
 * destination store the messages this pass copied as they were sent.
 */
export interface FolderVerification {
  /** Source messages that must be at the destination: the source's count minus refused ones. */
  expected: number;
  /** Messages in the destination folder when checked. */
  destMessages: number;
  /**
   * The destination held this many fewer messages than were copied before, at the start of
   * this pass (deleted or lost there): the folder was re-matched and what was missing copied again.
   */
  missingAtStart: number;
  /** Of those, copied again by this pass. */
  recopied: number;
  /** The destination holds this many fewer than `expected` at the end: the next pass re-matches the folder. */
  missing: number;
  /** Messages copied by this pass that the destination stored differently, by reason. */
  alteredReasons: Record<string, number>;
  altered: number;
  /** Messages copied by this pass whose stored form could not be compared (the destination's UIDs unknown). */
  unchecked: number;
  /** IMAP commands the verification of this folder sent (a folder skipped on STATUS costs none). */
  commands: number;
}

/** The verification of a pass: the folders' results summed up. */
export interface PassVerification {
  /** Folders whose counts were checked (every folder the pass listed and did not fail on). */
  foldersChecked: number;
  /** Folders where the destination held fewer messages than it must, at the start or at the end of the pass. */
  foldersShort: { folder: string; missingAtStart: number; recopied: number; missing: number }[];
  /** Messages missing at the start (copied again by this pass) and at the end (for the next pass). */
  missingAtStart: number;
  recopied: number;
  missing: number;
  /** Messages copied by this pass that the destination stored differently, in all and by reason. */
  altered: number;
  alteredReasons: Record<string, number>;
  unchecked: number;
  /** IMAP commands the verification sent. */
  commands: number;
}

/** Statistics of one folder in a pass. */
export interface FolderStats extends CopyCounters {
  sourceFolder: string;
  destFolder: string;
  /** Skipped without a SELECT because STATUS matched the checkpoint. */
  unchanged: boolean;
  /** Destination messages whose flags were set to the source's by this pass (flag sync). */
  flagsUpdated: number;
  /** Source messages this pass left for a later one: outside its date window ({@link PassInput.dates}). */
  messagesLeftOut: number;
  durationMs: number;
  /** Why the folder was not copied (e.g. the destination refused to create it), when it was not. */
  error?: string;
  /** Counts and alterations checked at the end of the folder (absent when the folder did not complete). */
  verification?: FolderVerification;
  /** Copied per second of this folder's own time. */
  messagesPerSecond: number;
  bytesPerSecond: number;
}

/** Statistics of a pass. */
export interface PassStats extends CopyCounters {
  itemId: string;
  folders: FolderStats[];
  /** Refused messages recorded for this item (all passes). */
  skipped: SkippedMessage[];
  durationMs: number;
  messagesPerSecond: number;
  bytesPerSecond: number;
  errors: number;
  /** Destination messages whose flags were set to the source's by this pass (all folders). */
  flagsUpdated: number;
  /** Source messages left for a later pass: outside this pass's date window (all folders). */
  messagesLeftOut: number;
  /** What the verification found (folder counts, messages altered by the destination). */
  verification: PassVerification;
}

/** Why a pass failed (a subset of the domain's FailureReason enum). */
export type PassFailureReason =
  | 'SourceCredentials'
  | 'DestinationCredentials'
  | 'SourceUnreachable'
  | 'DestinationUnreachable'
  | 'DestinationQuota'
  /** More messages refused than `maxErrors` allows. */
  | 'TooManyErrors'
  | 'Internal';

/** Result of {@link runPass}: never thrown, always returned. */
export interface PassResult {
  outcome: 'completed' | 'stopped' | 'failed';
  reason?: PassFailureReason;
  detail?: string;
  stats: PassStats;
}

/** A throttled progress event (and one final event with `final: true`). */
export interface PassProgress extends CopyCounters {
  itemId: string;
  phase: 'listing' | 'copying' | 'done';
  foldersTotal: number;
  foldersDone: number;
  /** Folders whose message count is not known yet (`messagesFound` leaves them out). */
  foldersUncounted: number;
  /** Folders being copied right now. */
  current: string[];
  elapsedMs: number;
  final: boolean;
}

/**
 * Per-folder checkpoint. Invariant: every source UID ≤ `lastUid` is at the destination
 * exactly once or recorded as skipped. UIDs in (`lastUid`, `pendingToUid`] may have been
 * appended without confirmation (a crash mid-batch): a resume matches them by
 * fingerprint against destination UIDs ≥ `pendingDestUidNext`.
 */
/** (Its counters are cumulative: all passes.) */
export interface FolderCheckpoint extends CopyCounters {
  sourceFolder: string;
  destFolder: string;
  /** Source UIDVALIDITY (RFC 3501 §2.3.1.1) the UIDs refer to. */
  uidValidity: bigint;
  lastUid: number;
  /** Source STATUS when the folder last completed: an unchanged folder is skipped. */
  srcUidNext: number;
  srcMessages: number;
  srcBytes: number;
  destUidValidity: bigint | null;
  /** The folder matched pre-existing destination mail and has not completed since. */
  rematchAll: boolean;
  pendingToUid: number | null;
  pendingDestUidNext: number | null;
  /**
   * Source HIGHESTMODSEQ (CONDSTORE, RFC 7162) when the folder last completed, its flag
   * sync included; null when the source offers no mod-sequences (or before the first
   * completion). Flag changes of messages ≤ `lastUid` are looked up with CHANGEDSINCE it.
   */
  srcHighestModseq: bigint | null;
}

/**
 * Where checkpoints live. Saves must be durable when the promise resolves: the engine
 * appends the next batch only after the intent is saved.
 */
export interface CheckpointStore {
  /** All folder checkpoints of an item, keyed by source folder path. */
  load(itemId: string): Promise<Map<string, FolderCheckpoint>>;
  /** Writes (upserts) one folder checkpoint. */
  save(itemId: string, cp: FolderCheckpoint): Promise<void>;
  /** Records refused messages (idempotent per folder + UID). */
  recordSkipped(itemId: string, skipped: SkippedMessage[]): Promise<void>;
  /** Refused messages of an item. */
  listSkipped(itemId: string): Promise<SkippedMessage[]>;
  /** Forgets refused messages that are at the destination now (copied on a later try, or found there). */
  clearSkipped(itemId: string, sourceFolder: string, uids: number[]): Promise<void>;
  /**
   * Records messages the destination stored differently (idempotent per folder + UID; the
   * latest wins). Optional: a store without it still gets them counted in the pass's statistics.
   */
  recordAltered?(itemId: string, altered: AlteredMessage[]): Promise<void>;
}

/** An engine error with a stable string code. */
export class CopyError extends Error {
  /** Stable machine-readable code, e.g. `DESTINATION_QUOTA`. */
  readonly code: string;
  /** Failure reason the pass reports when this error ends it. */
  readonly reason: PassFailureReason;
  constructor(code: string, reason: PassFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CopyError';
    this.code = code;
    this.reason = reason;
  }
}
