import { reportsExactSizes } from './fingerprint.ts';
import { ByteBudget } from './byte-budget.ts';
import { Pacer, WALL_CLOCK, type PaceClock } from './pacer.ts';
import { summarizeVerification } from './verify-folder.ts';
import {
  ZERO_COUNTERS,
  type FolderCheckpoint,
  type FolderStats,
  type PassFailureReason,
  type PassInput,
  type PassOptions,
  type PassProgress,
  type PassStats,
  type SkippedMessage,
} from './types.ts';

/** The tuning of a pass with every default filled in (`maxMessagesPerHour` stays optional: no limit by default). */
export type PassSettings = Required<Omit<PassOptions, 'maxMessagesPerHour'>> & Pick<PassOptions, 'maxMessagesPerHour'>;

/** Defaults of {@link PassOptions}. */
export const PASS_DEFAULTS: Readonly<Omit<PassSettings, 'maxMessagesPerHour'>> = {
  connections: 4,
  messagesPerLane: 500,
  maxErrors: 100,
  batchMessages: 100,
  batchBytes: 8 * 1024 * 1024,
  memoryBudgetBytes: 8 * 1024 * 1024,
  progressIntervalMs: 3000,
  maxRetries: 8,
  retryBaseMs: 500,
  multiAppend: true,
  stream: true,
  splitFolders: true,
};

/** The options of a pass over its defaults: an option left undefined takes the default. */
export function passSettings(options: PassOptions = {}): PassSettings {
  const d = PASS_DEFAULTS;
  const or = <T>(v: T | undefined, fallback: T): T => (v === undefined ? fallback : v);
  return {
    connections: or(options.connections, d.connections),
    messagesPerLane: or(options.messagesPerLane, d.messagesPerLane),
    maxErrors: or(options.maxErrors, d.maxErrors),
    batchMessages: or(options.batchMessages, d.batchMessages),
    batchBytes: or(options.batchBytes, d.batchBytes),
    memoryBudgetBytes: or(options.memoryBudgetBytes, d.memoryBudgetBytes),
    progressIntervalMs: or(options.progressIntervalMs, d.progressIntervalMs),
    maxRetries: or(options.maxRetries, d.maxRetries),
    retryBaseMs: or(options.retryBaseMs, d.retryBaseMs),
    multiAppend: or(options.multiAppend, d.multiAppend),
    stream: or(options.stream, d.stream),
    splitFolders: or(options.splitFolders, d.splitFolders),
    maxMessagesPerHour: options.maxMessagesPerHour,
  };
}

/** Why a pass ends early: the first failure wins. */
export interface PassFailure {
  reason: PassFailureReason;
  detail: string;
}

/** A folder statistics record before any work. */
export function emptyStats(sourceFolder: string, destFolder: string): FolderStats {
  return {
    sourceFolder,
    destFolder,
    unchanged: false,
    flagsUpdated: 0,
    messagesLeftOut: 0,
    durationMs: 0,
    messagesPerSecond: 0,
    bytesPerSecond: 0,
    ...ZERO_COUNTERS,
  };
}

type SummedCounter = keyof Omit<FolderStats, 'sourceFolder' | 'destFolder' | 'unchanged' | 'error' | 'verification'>;

/**
 * Everything one pass shares between its parts (listing, folder copies on several lanes,
 * the finish): counters, the first failure, the stop, refused messages, checkpoints, and
 * the pass-wide resources (memory budget, rate pacer). One object, passed explicitly.
 */
export class PassState {
  readonly startedAt = Date.now();
  private readonly halt = new AbortController();
  /** Aborts on a stop or when the pass ends early: every wait of the pass is cut short by it. */
  readonly stopOrHalt: AbortSignal;
  /** Statistics of every mapped folder, in mapping order. */
  readonly folders: FolderStats[] = [];
  /** Source folders being copied right now. */
  readonly current = new Set<string>();
  phase: PassProgress['phase'] = 'listing';
  foldersDone = 0;
  /** Folders whose message count is not known yet (no LIST-STATUS / STATUS answer): counted when planned. */
  readonly uncounted = new Set<string>();
  /** Refused messages and retried failures so far. */
  errors = 0;
  /** The first reason the pass must end; null while it may go on. */
  failure: PassFailure | null = null;
  /** A stop came while work was left. */
  stoppedWithWork = false;
  /** Refused messages of the item (all passes), one record per folder and UID. */
  skipped: SkippedMessage[] = [];
  /** Source UIDs refused per source folder. */
  readonly skippedByFolder = new Map<string, Set<number>>();
  /** Folder checkpoints by source folder, as last saved. */
  checkpoints = new Map<string, FolderCheckpoint>();
  /**
   * Messages found missing at the destination by the count check at the start of the pass, by source folder
   * (verify-folder.ts).
   */
  missingAtStart = new Map<string, number>();
  /**
   * Settles once the missing destination folders are created (run-pass.ts, on the first lane's
   * destination connection, while its source side plans the first folder): no destination
   * folder is opened before.
   */
  destFoldersReady: Promise<void> = Promise.resolve();
  /** Message bytes fetched and not yet appended, across all lanes (buffered path). */
  readonly budget: ByteBudget;
  /** The provider's rate, when one is set. */
  readonly pacer: Pacer | null;
  readonly paceClock: PaceClock;
  /** Both servers report exact RFC822.SIZEs (not Microsoft 365): sizes may identify a message and show a change. */
  readonly exactSizes: boolean;

  constructor(
    readonly input: PassInput,
    readonly settings: PassSettings,
  ) {
    this.stopOrHalt = input.signal ? AbortSignal.any([input.signal, this.halt.signal]) : this.halt.signal;
    this.budget = new ByteBudget(settings.memoryBudgetBytes);
    this.paceClock = input.paceClock ?? WALL_CLOCK;
    this.exactSizes = reportsExactSizes(input.source.url) && reportsExactSizes(input.destination.url);
    const perHour = settings.maxMessagesPerHour;
    const clock = this.paceClock;
    this.pacer = perHour && perHour > 0 ? new Pacer(perHour, () => clock.now()) : null;
  }

  /** The pass was asked to stop. */
  get stopped(): boolean {
    return !!this.input.signal?.aborted;
  }

  /** Ends the pass with this failure (the first one is kept) and cuts every wait short. */
  fail(reason: PassFailureReason, detail: string): void {
    if (!this.failure) this.failure = { reason, detail };
    this.halt.abort();
  }

  /** More errors than the pass tolerates. */
  get tooManyErrors(): boolean {
    return this.errors > this.settings.maxErrors;
  }

  /** Takes the refused messages of earlier passes. */
  setSkipped(list: SkippedMessage[]): void {
    this.skipped = list;
    for (const s of list) this.skippedIn(s.sourceFolder).add(s.uid);
  }

  /** The refused UIDs of a source folder (a live set). */
  skippedIn(folder: string): Set<number> {
    let set = this.skippedByFolder.get(folder);
    if (!set) this.skippedByFolder.set(folder, (set = new Set()));
    return set;
  }

  /** Keeps one record per refused message, the latest reason. */
  noteSkipped(records: SkippedMessage[]): void {
    for (const r of records) {
      this.skippedIn(r.sourceFolder).add(r.uid);
      this.skipped = this.skipped.filter((x) => x.sourceFolder !== r.sourceFolder || x.uid !== r.uid);
      this.skipped.push(r);
    }
  }

  /** Forgets the records of a folder's messages no longer refused (no longer in its set). */
  forgetSkipped(folder: string, uids: number[]): void {
    const set = this.skippedIn(folder);
    for (const u of uids) set.delete(u);
    this.skipped = this.skipped.filter((x) => x.sourceFolder !== folder || set.has(x.uid));
  }

  /** Statistics of the pass so far (each folder's rates brought up to date). */
  stats(): PassStats {
    const folders = this.folders;
    const sum = (k: SummedCounter) => folders.reduce((s, f) => s + f[k], 0);
    for (const f of folders) {
      f.messagesPerSecond = f.durationMs > 0 ? (f.messagesCopied * 1000) / f.durationMs : 0;
      f.bytesPerSecond = f.durationMs > 0 ? (f.bytesCopied * 1000) / f.durationMs : 0;
    }
    const durationMs = Date.now() - this.startedAt;
    const copied = sum('messagesCopied');
    const bytes = sum('bytesCopied');
    return {
      itemId: this.input.itemId,
      folders: folders.map((f) => ({ ...f })),
      skipped: this.skipped,
      durationMs,
      messagesPerSecond: durationMs > 0 ? (copied * 1000) / durationMs : 0,
      bytesPerSecond: durationMs > 0 ? (bytes * 1000) / durationMs : 0,
      errors: this.errors,
      messagesFound: sum('messagesFound'),
      bytesFound: sum('bytesFound'),
      messagesCopied: copied,
      bytesCopied: bytes,
      messagesPresent: sum('messagesPresent'),
      messagesSkipped: sum('messagesSkipped'),
      flagsUpdated: sum('flagsUpdated'),
      messagesLeftOut: sum('messagesLeftOut'),
      verification: summarizeVerification(folders),
    };
  }

  /** Tells the pass's listener where it stands; a listener's failure is not the pass's. */
  emitProgress(final: boolean): void {
    const listener = this.input.onProgress;
    if (!listener) return;
    const s = this.stats();
    try {
      listener({
        itemId: this.input.itemId,
        phase: final ? 'done' : this.phase,
        foldersTotal: this.folders.length,
        foldersDone: this.foldersDone,
        foldersUncounted: this.uncounted.size,
        current: [...this.current],
        elapsedMs: s.durationMs,
        final,
        messagesFound: s.messagesFound,
        bytesFound: s.bytesFound,
        messagesCopied: s.messagesCopied,
        bytesCopied: s.bytesCopied,
        messagesPresent: s.messagesPresent,
        messagesSkipped: s.messagesSkipped,
      });
    } catch {
      /* a listener's failure is not the pass's */
    }
  }
}
