import type { ImapFlow } from 'imapflow';
import { hasBridge } from '../connectors/imap/imapflow-bridge.ts';
import { withConfirmed, withPending } from './checkpoint.ts';
import { BatchQueue } from './batch-queue.ts';
import { appendBatch, splitBatches, streamBatch, type BatchOutcome, type OutgoingMessage } from './copy-batch.ts';
import type { FolderJob } from './folder-jobs.ts';
import type { Lane, LaneConnections } from './lane.ts';
import type { PassState } from './pass-state.ts';
import { onSide, planFolder, type FolderPlan, type MessageMeta } from './plan-folder.ts';
import { Prefetch } from './prefetch.ts';
import { keepsConnections } from './retry-policy.ts';
import { syncFlags, type FlagSyncOutcome } from './sync-flags.ts';
import { CopyError, type FolderCheckpoint } from './types.ts';
import { appendLogOf, requeued, verifyFolderEnd } from './verify-folder.ts';

/** How batches go to this destination. */
interface SendMode {
  /** One APPEND per batch (MULTIAPPEND, RFC 3502). */
  multi: boolean;
  /** Each batch piped from the source FETCH into the APPEND (LITERAL+, RFC 7888). */
  streaming: boolean;
  permanentFlags: Set<string>;
  /** APPENDLIMIT (RFC 7889), when the destination announces a number. */
  appendLimit: number | undefined;
}

/**
 * One folder's copy in progress: its plan, its checkpoint, its refused UIDs, and its batches
 * (taken by its own lane, and by lanes that join it when they have no folder of their own).
 *
 * Checkpoint writes are the fewest the crash model allows: the starting checkpoint goes with
 * the first intent (nothing before it changes the destination but idempotent flag STOREs, and
 * a crash before it re-plans the folder from the stored checkpoint to the same start), and the
 * last batch's confirmation goes with the folder's completion (a crash between the two finds
 * the intent, as after a crash mid-APPEND). So a folder copied in one batch costs two writes.
 *
 * A split folder (another lane joined): one intent covers every batch left, under the floor
 * of the intent in force, and `lastUid` stays where it was until the folder completes; each
 * batch's confirmation only adds to the counters. So every copy the lanes make lands at or
 * above the floor and belongs to a source UID above `lastUid`, and a resume matches exactly
 * those (see "Checkpoints and the crash model" in README.md).
 */
export class FolderRun {
  /** The checkpoint as of now; as last saved unless {@link FolderRun.unsaved}. */
  cp: FolderCheckpoint;
  /**
   * `cp` is ahead of the store (the starting checkpoint, or the last batch's confirmation): the next write carries it.
   */
  unsaved = false;
  /** The destination UIDNEXT: the floor of the next intent. */
  destUidNext: number;
  /** The batches to send (set once the flag changes are carried). */
  queue = new BatchQueue([]);
  /** Another lane joined: every batch is announced, and `lastUid` stays until the folder completes. */
  split = false;
  /** Other lanes may join: the destination answers APPENDUID (RFC 4315), batches go as MULTIAPPENDs. */
  splittable = false;
  /** The first batches, holding refused messages retried: confirmed before another lane may join. */
  retryBatches = 0;
  /** Resets the folder's count of failed attempts (its own lane's retry policy). */
  progressed: () => void = () => undefined;
  /** The parts of the lanes that joined, until each ends. */
  private readonly helpers: Promise<unknown>[] = [];
  /** The write of the intent that covers every batch of a split folder. */
  private splitIntent: Promise<void> | undefined;
  /** Checkpoint changes in turn: several lanes confirm batches of one folder. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly pass: PassState,
    readonly job: FolderJob,
    readonly plan: FolderPlan,
    /** Refused UIDs of this folder (the pass's live set). */
    readonly skipped: Set<number>,
  ) {
    this.cp = { ...plan.checkpoint, messagesFound: plan.found, bytesFound: plan.bytesFound };
    this.destUidNext = plan.dest.uidNext;
  }

  get name(): string {
    return this.job.mapping.sourceName;
  }

  /** Runs `fn` after every checkpoint change queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.writes.then(fn);
    this.writes = p.catch(() => undefined);
    return p;
  }

  /** Saves a checkpoint (durable when this resolves). */
  private async save(next: FolderCheckpoint): Promise<void> {
    const { input, checkpoints } = this.pass;
    await input.checkpoints.save(input.itemId, next);
    checkpoints.set(this.name, next);
    this.cp = next;
    this.unsaved = false;
  }

  /** Saves the checkpoint `make` builds from the current one, in turn (durable when this resolves). */
  saveFrom(make: (cp: FolderCheckpoint) => FolderCheckpoint): Promise<void> {
    return this.serial(() => this.save(make(this.cp)));
  }

  /** Takes the checkpoint `make` builds from the current one without writing it: the next save carries it. */
  deferFrom(make: (cp: FolderCheckpoint) => FolderCheckpoint): Promise<void> {
    return this.serial(async () => {
      this.cp = make(this.cp);
      this.unsaved = true;
    });
  }

  /** Refused earlier and at the destination now: no longer skipped. */
  async unskip(uids: number[]): Promise<void> {
    const gone = uids.filter((u) => this.skipped.has(u));
    if (!gone.length) return;
    const { input } = this.pass;
    await input.checkpoints.clearSkipped(input.itemId, this.name, gone);
    this.pass.forgetSkipped(this.name, gone);
    this.job.stats.messagesSkipped = this.skipped.size;
  }

  /** Records the messages the destination refused in a batch; each counts as an error. */
  async recordRefused(refused: BatchOutcome['refused']): Promise<void> {
    if (!refused.length) return;
    const rec = refused.map((r) => ({ sourceFolder: this.name, uid: r.message.uid, size: r.size, reason: r.reason }));
    const { input } = this.pass;
    await input.checkpoints.recordSkipped(input.itemId, rec);
    this.pass.noteSkipped(rec);
    this.job.stats.messagesSkipped = this.skipped.size;
    this.pass.errors += rec.length;
  }

  /**
   * Write-ahead: records that UIDs up to `batchMax` may land at destination UIDs ≥ the current UIDNEXT (usually already
   * written with the previous batch's confirmation).
   */
  async announce(batchMax: number): Promise<void> {
    // A split folder's intent failed to be written (a store failure): no lane appends.
    await this.splitIntent;
    return this.serial(async () => {
      const { cp, plan } = this;
      if (
        this.unsaved ||
        cp.pendingToUid === null ||
        cp.pendingToUid < batchMax ||
        cp.destUidValidity !== plan.dest.uidValidity
      ) {
        await this.save(withPending(cp, batchMax, this.destUidNext, plan.dest.uidValidity));
      }
    });
  }

  /**
   * Another lane may join now: the folder can be split, its batches that hold retried refused
   * messages are confirmed, nothing failed, and at least two batches are left (one for each).
   */
  mayJoin(): boolean {
    const { queue, pass } = this;
    return (
      this.splittable &&
      !queue.failed &&
      queue.done >= this.retryBatches &&
      queue.untakenBatches >= 2 &&
      !pass.failure &&
      !pass.stopped
    );
  }

  /**
   * A lane joins the folder, and `part` is its work (which must announce each batch as usual:
   * the announce waits for the intent written here). From now on the folder is split: one
   * intent covers every batch left, with the floor of the intent in force (withPending keeps
   * the lower one), so no copy made by any lane can land below it.
   */
  join(part: () => Promise<unknown>): void {
    if (!this.split) {
      this.split = true;
      const end = this.queue.maxUid;
      this.splitIntent = this.saveFrom((cp) => withPending(cp, end, this.destUidNext, this.plan.dest.uidValidity));
      this.splitIntent.catch(() => undefined);
    }
    this.helpers.push(part());
  }

  /** Waits until every lane that joined has ended its part. */
  async helpersDone(): Promise<void> {
    while (this.helpers.length) await Promise.allSettled(this.helpers.splice(0));
  }

  /**
   * The folder is complete: the source STATUS is kept, so an unchanged folder is skipped next
   * time. When the date window left messages out, the folder is complete only up to the first
   * of them: no STATUS is kept (the folder is opened, not skipped or audited, next pass) and a
   * whole-folder match still due stays due.
   */
  async complete(flagSync: FlagSyncOutcome): Promise<void> {
    const { plan, job } = this;
    const present = Math.max(0, plan.found - job.stats.messagesCopied - this.skipped.size - plan.leftOut);
    const partial = plan.leftOut > 0;
    await this.saveFrom((cp) => ({
      ...withConfirmed(cp, plan.confirmThrough),
      srcUidNext: partial ? 0 : plan.srcUidNext,
      srcMessages: partial ? -1 : plan.found,
      srcBytes: plan.bytesFound,
      rematchAll: partial && cp.rematchAll,
      // Flag changes up to here are at the destination; a refused STORE keeps the old
      // value, so the next pass tries again.
      srcHighestModseq: flagSync.refused ? cp.srcHighestModseq : plan.srcHighestModseq,
      messagesPresent: present,
    }));
    job.stats.messagesPresent = present;
  }

  /** The checkpoint that makes the next plan re-match the whole folder (verify-folder.ts). */
  requeue(): Promise<void> {
    return this.saveFrom(requeued);
  }
}

/** Plans the folder, forgets refusals found at the destination, saves the starting checkpoint. */
async function openFolder(pass: PassState, job: FolderJob, src: ImapFlow, dest: ImapFlow): Promise<FolderRun> {
  const name = job.mapping.sourceName;
  const skipped = pass.skippedIn(name);
  const plan = await planFolder(src, dest, job.mapping, pass.checkpoints.get(name), skipped, {
    createDest: job.createDest,
    destCreated: () => !!job.destCreated,
    destReady: pass.destFoldersReady,
    exactSizes: pass.exactSizes,
    dates: pass.input.dates,
  });
  const run = new FolderRun(pass, job, plan, skipped);
  await run.unskip(plan.retryFound);
  run.unsaved = true;
  pass.uncounted.delete(name);
  const fs = job.stats;
  fs.messagesFound = plan.found;
  fs.bytesFound = plan.bytesFound;
  fs.messagesPresent = plan.present;
  fs.messagesSkipped = skipped.size;
  fs.messagesLeftOut = plan.leftOut;
  return run;
}

/**
 * Flag changes of messages already at the destination (source wins), before new mail is
 * appended: the destination then holds only the copies made by earlier passes. Only
 * CHANGEDSINCE the modseq of the last completion where the source has one (and nothing at
 * all when it did not move); every message otherwise. Null when refusals ended the pass.
 */
async function carryFlagChanges(run: FolderRun, src: ImapFlow, dest: ImapFlow): Promise<FlagSyncOutcome | null> {
  const { cp, plan, pass } = run;
  const since =
    cp.srcHighestModseq !== null && plan.srcHighestModseq !== null && plan.srcHighestModseq >= cp.srcHighestModseq
      ? cp.srcHighestModseq
      : null;
  const flagSync =
    since !== null && since === plan.srcHighestModseq
      ? { updated: 0, refused: 0 }
      : await syncFlags(src, dest, {
          throughUid: plan.flagSyncThroughUid,
          changedSince: since,
          skipped: run.skipped,
          permanentFlags: plan.dest.permanentFlags,
          destExists: plan.dest.exists,
          exactSizes: pass.exactSizes,
        });
  run.job.stats.flagsUpdated += flagSync.updated;
  if (flagSync.refused) {
    pass.errors += flagSync.refused;
    if (pass.tooManyErrors) {
      const max = pass.settings.maxErrors;
      pass.fail(
        'TooManyErrors',
        `more than ${max} errors; last: the destination refused to set the ` +
          `flags of ${flagSync.refused} message(s) in ${run.job.mapping.destName}`,
      );
      return null;
    }
  }
  return flagSync;
}

/**
 * Where the destination takes LITERAL+ and MULTIAPPEND, each batch is piped from the
 * source FETCH into the APPEND (no message held in memory); otherwise it is fetched ahead
 * ({@link Prefetch}). Both need the imapflow bridge (imapflow-bridge.ts); without it a batch
 * is fetched with imapflow and appended one message at a time.
 */
function sendModeOf(run: FolderRun, src: ImapFlow, dest: ImapFlow): SendMode {
  const s = run.pass.settings;
  const bridged = hasBridge(src) && hasBridge(dest);
  const multi = s.multiAppend && bridged && dest.capabilities.has('MULTIAPPEND');
  const streaming = s.stream && multi && dest.capabilities.has('LITERAL+');
  const limit = dest.capabilities.get('APPENDLIMIT');
  return {
    multi,
    streaming,
    permanentFlags: run.plan.dest.permanentFlags,
    appendLimit: typeof limit === 'number' ? limit : undefined,
  };
}

/** Sends one batch the way the destination allows. */
function sendBatch(
  run: FolderRun,
  c: LaneConnections,
  mode: SendMode,
  batch: MessageMeta[],
  bodies: OutgoingMessage[],
): Promise<BatchOutcome> {
  const opts = { permanentFlags: mode.permanentFlags, appendLimit: mode.appendLimit };
  const path = run.plan.dest.path;
  return mode.streaming
    ? streamBatch(c.src, c.dest, path, batch, opts)
    : appendBatch(c.dest, path, bodies, { ...opts, multi: mode.multi });
}

/**
 * Takes in what a batch did: the destination UIDNEXT, refused messages, counters, and one
 * checkpoint write that confirms this batch and announces `next`, the lane's next batch
 * (halves the fsyncs). The last batch's confirmation, when nothing can end the folder
 * before its completion, is left to the completion's write. In a split folder `lastUid`
 * does not move: the folder's completion confirms every batch at once.
 */
async function confirmBatch(
  run: FolderRun,
  dest: ImapFlow,
  out: BatchOutcome,
  batchMax: number,
  next: MessageMeta[] | undefined,
): Promise<void> {
  const { plan, job } = run;
  appendLogOf(job.stats).add(out, run.destUidNext);
  if (out.destUidNext) run.destUidNext = Math.max(run.destUidNext, out.destUidNext);
  else {
    // No UIDPLUS (RFC 4315): ask for UIDNEXT so the next intent's floor is exact.
    const st = await onSide('destination', dest.status(plan.dest.path, { uidNext: true }));
    run.destUidNext = (st && st.uidNext) || run.destUidNext;
  }
  await run.recordRefused(out.refused);
  job.stats.messagesCopied += out.appended.length;
  job.stats.bytesCopied += out.bytes;
  await run.unskip(out.appended.map((m) => m.uid));
  const confirmed = (cp: FolderCheckpoint): FolderCheckpoint => ({
    // Never past a message the date window left out: it must stay above `lastUid`.
    ...withConfirmed(cp, run.split ? cp.lastUid : Math.min(out.confirmedThrough ?? batchMax, plan.confirmThrough)),
    messagesCopied: cp.messagesCopied + out.appended.length,
    bytesCopied: cp.bytesCopied + out.bytes,
    messagesSkipped: run.skipped.size,
  });
  const lastAnnounced = !out.fatal ? next?.at(-1) : undefined;
  if (!next && !out.fatal && !out.refused.length) await run.deferFrom(confirmed);
  else
    await run.saveFrom((cp) =>
      lastAnnounced
        ? withPending(confirmed(cp), lastAnnounced.uid, run.destUidNext, plan.dest.uidValidity)
        : confirmed(cp),
    );
  run.queue.done++;
}

/** Waits for the provider's rate (a stop cuts the wait short); false when the pass is stopping. */
async function paced(pass: PassState, messages: number): Promise<boolean> {
  if (pass.pacer) {
    const wait = pass.pacer.reserve(messages);
    if (wait > 0) await pass.paceClock.sleep(wait, pass.stopOrHalt);
  }
  if (!pass.stopped) return true;
  pass.stoppedWithWork = true;
  return false;
}

/**
 * One lane's share of a folder's batches: takes the next batch of the folder's queue and
 * sends it, bracketed by checkpoints, until none is left (true) or the pass or another lane
 * of the folder ended first (false).
 */
async function sendBatches(run: FolderRun, c: LaneConnections): Promise<boolean> {
  const { pass, queue } = run;
  const s = pass.settings;
  const mode = sendModeOf(run, c.src, c.dest);
  const prefetch = mode.streaming ? null : new Prefetch(pass.budget, c.src, () => queue.take());
  try {
    for (;;) {
      if (pass.failure || queue.failed) return false;
      let batch: MessageMeta[] | undefined;
      let bodies: OutgoingMessage[] = [];
      if (prefetch) ({ batch, bodies } = (await prefetch.take()) ?? { batch: undefined, bodies: [] });
      else batch = queue.take();
      const last = batch?.at(-1);
      if (!batch || !last) return true;
      if (!(await paced(pass, batch.length))) return false;
      const batchMax = last.uid;
      await run.announce(batchMax);
      const out = await sendBatch(run, c, mode, batch, bodies).finally(() => prefetch?.releaseHeld());
      await confirmBatch(run, c.dest, out, batchMax, prefetch ? prefetch.nextBatch : queue.peek());
      run.progressed();
      if (out.fatal) throw out.fatal;
      const first = out.refused[0];
      if (first && pass.tooManyErrors) {
        pass.fail(
          'TooManyErrors',
          `more than ${s.maxErrors} errors; last: the destination refused ` +
            `message UID ${first.message.uid} of ${run.name}: ${first.reason}`,
        );
        return false;
      }
    }
  } finally {
    await prefetch?.close();
  }
}

/** Lanes without a folder of their own look here for a folder to join (the lane scheduler). */
export interface FolderShare {
  /** The folder's batches are ready: other lanes may join it ({@link FolderRun.mayJoin}). */
  open(run: FolderRun): void;
  /** No lane joins the folder any more. */
  close(run: FolderRun): void;
}

/**
 * Copies the planned messages batch by batch on the folder's own lane, other lanes joining
 * through `share`; false when the pass ended first. Ends only once every lane that joined
 * has ended (no APPEND of the folder is left in flight when it is retried); the first
 * failure of any lane is thrown, and the folder is retried from its checkpoint.
 */
async function copyBatches(run: FolderRun, c: LaneConnections, share: FolderShare | undefined): Promise<boolean> {
  const { pass, plan } = run;
  const s = pass.settings;
  // Under a rate limit a batch holds at most a minute's worth, so the pace stays even.
  const batches = splitBatches(
    plan.toCopy,
    pass.pacer ? Math.min(s.batchMessages, pass.pacer.perMinute) : s.batchMessages,
    s.batchBytes,
  );
  run.queue = new BatchQueue(batches);
  // Without APPENDUID the verification pairs copies with sources by their order at the
  // destination, which lanes appending at once would not keep.
  run.splittable = s.splitFolders && sendModeOf(run, c.src, c.dest).multi && c.dest.capabilities.has('UIDPLUS');
  run.retryBatches = plan.retrying.size ? batches.findLastIndex((b) => b.some((m) => plan.retrying.has(m.uid))) + 1 : 0;
  let ok = false;
  share?.open(run);
  try {
    ok = await sendBatches(run, c);
  } catch (err) {
    run.queue.fail(err);
  } finally {
    share?.close(run);
    await run.helpersDone();
  }
  const failed = run.queue.failed;
  if (failed) throw failed.err;
  if (!ok || pass.failure || pass.stopped) return false;
  if (!run.queue.allDone) {
    throw new CopyError('BATCHES_LEFT', 'Internal', `batches of ${run.name} were taken by a lane and not sent`);
  }
  return true;
}

/**
 * A lane without a folder of its own joins `run` (checked with {@link FolderRun.mayJoin}):
 * it opens the folder on its own connections (the source EXAMINEd, the destination SELECTed)
 * and sends batches of the folder's queue until none is left. A failure while sending ends
 * the folder's attempt for every lane (its own lane retries it from the checkpoint); the
 * lane is reset when its connections are broken. Resolves false when the lane could not log
 * in or open the folder (it joins no folder again in this pass); never rejects.
 */
export function joinFolder(run: FolderRun, lane: Lane): Promise<boolean> {
  let joined: Promise<boolean> = Promise.resolve(false);
  run.join(() => (joined = helpFolder(run, lane)));
  return joined;
}

async function helpFolder(run: FolderRun, lane: Lane): Promise<boolean> {
  let c: LaneConnections;
  try {
    c = await lane.ensure();
    const [srcBox, destBox] = await Promise.all([
      onSide('source', c.src.mailboxOpen(run.job.mapping.source.path, { readOnly: true })),
      onSide('destination', c.dest.mailboxOpen(run.plan.dest.path)),
    ]);
    // Renumbered or recreated since the folder was planned: its own lane finds out.
    if (srcBox.uidValidity !== run.cp.uidValidity || destBox.uidValidity !== run.plan.dest.uidValidity) return false;
  } catch {
    // Nothing of the folder was sent from this lane: the others go on without it.
    if (!lane.usable) await lane.reset();
    return false;
  }
  try {
    await sendBatches(run, c);
  } catch (err) {
    run.queue.fail(err);
    if (!keepsConnections(err) || !lane.usable) await lane.reset();
  }
  return true;
}

/**
 * Counts and alterations of what this pass appended to the folder (verify-folder.ts); a folder found short is
 * re-queued.
 */
async function verifyEnd(run: FolderRun, c: LaneConnections, after?: Promise<void>): Promise<void> {
  const { pass, job, plan } = run;
  const name = run.name;
  await verifyFolderEnd(c.src, c.dest, plan, {
    sourceFolder: name,
    destFolder: job.mapping.destName,
    // Messages left out by the date window are not expected at the destination yet.
    skipped: run.skipped.size + plan.leftOut,
    missingAtStart: pass.missingAtStart.get(name) ?? 0,
    copied: job.stats.messagesCopied,
    log: appendLogOf(job.stats),
    stats: job.stats,
    itemId: pass.input.itemId,
    store: pass.input.checkpoints,
    requeue: () => run.requeue(),
    exactSizes: pass.exactSizes,
    after,
  });
}

/**
 * Copies one folder on a lane's connections: plan, flag changes, the batches (other lanes
 * may join through `share`), completion. Its time adds to the folder's statistics whatever
 * happens; errors propagate to the lane's retry (lane.ts).
 */
export async function copyFolder(
  pass: PassState,
  job: FolderJob,
  c: LaneConnections,
  progressed: () => void,
  share?: FolderShare,
): Promise<void> {
  const started = Date.now();
  try {
    const run = await openFolder(pass, job, c.src, c.dest);
    run.progressed = progressed;
    const flagSync = await carryFlagChanges(run, c.src, c.dest);
    if (!flagSync) return;
    if (flagSync.updated) progressed();
    if (!(await copyBatches(run, c, share))) return;
    // The completion is written while the destination is checked (its results are kept after it).
    const completed = run.complete(flagSync);
    const [done, verified] = await Promise.allSettled([completed, verifyEnd(run, c, completed)]);
    if (done.status === 'rejected') throw done.reason;
    if (verified.status === 'rejected') throw verified.reason;
  } finally {
    job.stats.durationMs += Date.now() - started;
  }
}
