import type { ImapFlow } from 'imapflow';
import { hasBridge } from '../connectors/imap/imapflow-bridge.ts';
import { withConfirmed, withPending } from './checkpoint.ts';
import { appendBatch, splitBatches, streamBatch, type BatchOutcome, type OutgoingMessage } from './copy-batch.ts';
import type { FolderJob } from './folder-jobs.ts';
import type { LaneConnections } from './lane.ts';
import type { PassState } from './pass-state.ts';
import { onSide, planFolder, type FolderPlan, type MessageMeta } from './plan-folder.ts';
import { Prefetch } from './prefetch.ts';
import { syncFlags, type FlagSyncOutcome } from './sync-flags.ts';
import type { FolderCheckpoint } from './types.ts';
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
 * One folder's copy in progress: its plan, its checkpoint, its refused UIDs.
 *
 * Checkpoint writes are the fewest the crash model allows: the starting checkpoint goes with
 * the first intent (nothing before it changes the destination but idempotent flag STOREs, and
 * a crash before it re-plans the folder from the stored checkpoint to the same start), and the
 * last batch's confirmation goes with the folder's completion (a crash between the two finds
 * the intent, as after a crash mid-APPEND). So a folder copied in one batch costs two writes.
 */
class FolderRun {
  /** The checkpoint as of now; as last saved unless {@link FolderRun.unsaved}. */
  cp: FolderCheckpoint;
  /**
   * `cp` is ahead of the store (the starting checkpoint, or the last batch's confirmation): the next write carries it.
   */
  unsaved = false;
  /** The destination UIDNEXT: the floor of the next intent. */
  destUidNext: number;

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

  /** Saves a checkpoint (durable when this resolves). */
  async save(next: FolderCheckpoint): Promise<void> {
    const { input, checkpoints } = this.pass;
    await input.checkpoints.save(input.itemId, next);
    checkpoints.set(this.name, next);
    this.cp = next;
    this.unsaved = false;
  }

  /** Takes `next` as the checkpoint without writing it: the next {@link FolderRun.save} carries it. */
  defer(next: FolderCheckpoint): void {
    this.cp = next;
    this.unsaved = true;
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
    const { cp, plan } = this;
    if (
      this.unsaved ||
      cp.pendingToUid === null ||
      cp.pendingToUid < batchMax ||
      cp.destUidValidity !== plan.dest.uidValidity
    ) {
      await this.save(withPending(cp, batchMax, this.destUidNext, plan.dest.uidValidity));
    }
  }

  /**
   * The folder is complete: the source STATUS is kept, so an unchanged folder is skipped next
   * time. When the date window left messages out, the folder is complete only up to the first
   * of them: no STATUS is kept (the folder is opened, not skipped or audited, next pass) and a
   * whole-folder match still due stays due.
   */
  async complete(flagSync: FlagSyncOutcome): Promise<void> {
    const { cp, plan, job } = this;
    const present = Math.max(0, plan.found - job.stats.messagesCopied - this.skipped.size - plan.leftOut);
    const partial = plan.leftOut > 0;
    await this.save({
      ...withConfirmed(cp, plan.confirmThrough),
      srcUidNext: partial ? 0 : plan.srcUidNext,
      srcMessages: partial ? -1 : plan.found,
      srcBytes: plan.bytesFound,
      rematchAll: partial && cp.rematchAll,
      // Flag changes up to here are at the destination; a refused STORE keeps the old
      // value, so the next pass tries again.
      srcHighestModseq: flagSync.refused ? cp.srcHighestModseq : plan.srcHighestModseq,
      messagesPresent: present,
    });
    job.stats.messagesPresent = present;
  }
}

/** Plans the folder, forgets refusals found at the destination, saves the starting checkpoint. */
async function openFolder(pass: PassState, job: FolderJob, src: ImapFlow, dest: ImapFlow): Promise<FolderRun> {
  const name = job.mapping.sourceName;
  const skipped = pass.skippedIn(name);
  const plan = await planFolder(src, dest, job.mapping, pass.checkpoints.get(name), skipped, {
    createDest: job.createDest,
    exactSizes: pass.exactSizes,
    dates: pass.input.dates,
  });
  const run = new FolderRun(pass, job, plan, skipped);
  await run.unskip(plan.retryFound);
  run.defer(run.cp);
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
 * checkpoint write that confirms this batch and announces the next one (halves the fsyncs).
 * The last batch's confirmation, when nothing can end the folder before its completion, is
 * left to the completion's write.
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
  if (out.destUidNext) run.destUidNext = out.destUidNext;
  else {
    // No UIDPLUS (RFC 4315): ask for UIDNEXT so the next intent's floor is exact.
    const st = await onSide('destination', dest.status(plan.dest.path, { uidNext: true }));
    run.destUidNext = (st && st.uidNext) || run.destUidNext;
  }
  await run.recordRefused(out.refused);
  job.stats.messagesCopied += out.appended.length;
  job.stats.bytesCopied += out.bytes;
  await run.unskip(out.appended.map((m) => m.uid));
  const cp = run.cp;
  const confirmed: FolderCheckpoint = {
    // Never past a message the date window left out: it must stay above `lastUid`.
    ...withConfirmed(cp, Math.min(out.confirmedThrough ?? batchMax, plan.confirmThrough)),
    messagesCopied: cp.messagesCopied + out.appended.length,
    bytesCopied: cp.bytesCopied + out.bytes,
    messagesSkipped: run.skipped.size,
  };
  const announced = !out.fatal && next ? next : null;
  const lastAnnounced = announced?.at(-1);
  if (!next && !out.fatal && !out.refused.length) run.defer(confirmed);
  else
    await run.save(
      lastAnnounced ? withPending(confirmed, lastAnnounced.uid, run.destUidNext, plan.dest.uidValidity) : confirmed,
    );
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

/** Copies the planned messages batch by batch, each bracketed by checkpoints; false when the pass ended first. */
async function copyBatches(run: FolderRun, c: LaneConnections, progressed: () => void): Promise<boolean> {
  const { pass, plan } = run;
  const s = pass.settings;
  // Under a rate limit a batch holds at most a minute's worth, so the pace stays even.
  const batches = splitBatches(
    plan.toCopy,
    pass.pacer ? Math.min(s.batchMessages, pass.pacer.perMinute) : s.batchMessages,
    s.batchBytes,
  );
  const mode = sendModeOf(run, c.src, c.dest);
  const prefetch = mode.streaming ? null : new Prefetch(pass.budget, c.src, batches);
  try {
    for (const [i, batch] of batches.entries()) {
      if (pass.failure) return false;
      const last = batch.at(-1);
      if (!last) continue;
      if (!(await paced(pass, batch.length))) return false;
      const bodies = prefetch ? await prefetch.take(i) : [];
      const batchMax = last.uid;
      await run.announce(batchMax);
      const out = await sendBatch(run, c, mode, batch, bodies).finally(() => prefetch?.releaseHeld());
      await confirmBatch(run, c.dest, out, batchMax, batches[i + 1]);
      progressed();
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
  return true;
}

/**
 * Counts and alterations of what this pass appended to the folder (verify-folder.ts); a folder found short is
 * re-queued.
 */
async function verifyEnd(run: FolderRun, c: LaneConnections): Promise<void> {
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
    requeue: () => run.save(requeued(run.cp)),
    exactSizes: pass.exactSizes,
  });
}

/**
 * Copies one folder on a lane's connections: plan, flag changes, the batches, completion.
 * Its time adds to the folder's statistics whatever happens; errors propagate to the
 * lane's retry (lane.ts).
 */
export async function copyFolder(
  pass: PassState,
  job: FolderJob,
  c: LaneConnections,
  progressed: () => void,
): Promise<void> {
  const started = Date.now();
  try {
    const run = await openFolder(pass, job, c.src, c.dest);
    const flagSync = await carryFlagChanges(run, c.src, c.dest);
    if (!flagSync) return;
    if (flagSync.updated) progressed();
    if (!(await copyBatches(run, c, progressed))) return;
    await run.complete(flagSync);
    await verifyEnd(run, c);
  } finally {
    job.stats.durationMs += Date.now() - started;
  }
}
