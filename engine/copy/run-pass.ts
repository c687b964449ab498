import type { ImapFlow } from 'imapflow';
import { classifyImapError, errorDetail, failureReasonFor, throttleHintMs } from '../connectors/imap/classify-error.ts';
import { closeImap, connectImap } from '../connectors/imap/open-imap.ts';
import { STOP_GRACE_MS, bridgeOf, hasBridge } from '../connectors/imap/imapflow-bridge.ts';
import { withConfirmed, withPending } from './checkpoint.ts';
import { ByteBudget } from './byte-budget.ts';
import { Pacer, WALL_CLOCK, abortableSleep } from './pacer.ts';
import { appendBatch, fetchBodies, splitBatches, streamBatch, type OutgoingMessage } from './copy-batch.ts';
import { listFolders, type MailFolder } from './list-folders.ts';
import { mapFolders, type FolderMapping, type FolderNamespaces } from './map-folders.ts';
import { personalNamespace } from './namespace.ts';
import { onSide, planFolder, type MessageMeta } from './plan-folder.ts';
import { syncFlags } from './sync-flags.ts';
import { appendLogOf, auditDestinations, requeued, summarizeVerification, unchangedVerification, verifyFolderEnd } from './verify-folder.ts';
import {
  ZERO_COUNTERS,
  CopyError,
  type AlteredMessage,
  type CheckpointStore,
  type FolderCheckpoint,
  type FolderStats,
  type PassFailureReason,
  type PassInput,
  type PassProgress,
  type PassResult,
  type PassStats,
  type SkippedMessage,
} from './types.ts';

const DEFAULTS = {
  connections: 4,
  maxErrors: 100,
  batchMessages: 100,
  batchBytes: 8 * 1024 * 1024,
  memoryBudgetBytes: 8 * 1024 * 1024,
  progressIntervalMs: 3000,
  maxRetries: 8,
  retryBaseMs: 500,
  multiAppend: true,
  stream: true,
};

type Side = 'source' | 'destination';

/** A pair of connections (source, destination) that works on one folder at a time. */
class Lane {
  src: ImapFlow | null = null;
  dest: ImapFlow | null = null;
  constructor(private readonly input: PassInput) {}
  async ensure(): Promise<{ src: ImapFlow; dest: ImapFlow }> {
    if (!this.src || !this.src.usable) {
      await closeImap(this.src);
      this.src = null;
      this.src = await onSide('source', connectImap(this.input.source));
    }
    if (!this.dest || !this.dest.usable) {
      await closeImap(this.dest);
      this.dest = null;
      this.dest = await onSide('destination', connectImap(this.input.destination));
    }
    return { src: this.src, dest: this.dest };
  }
  /** Both connections are open and logged in. */
  get usable(): boolean {
    return !!this.src?.usable && !!this.dest?.usable;
  }
  async reset(): Promise<void> {
    const [s, d] = [this.src, this.dest];
    this.src = this.dest = null;
    await Promise.all([closeImap(s), closeImap(d)]);
  }
  /** Closes a connection parked in imapflow's throttle wait (known through the bridge): its command fails at once. */
  dropThrottled(): void {
    for (const c of [this.src, this.dest]) if (c && bridgeOf(c)?.inThrottleWait) c.close();
  }
  /** Closes a connection whose throttle state cannot be known (no bridge): a stop must not wait out a hint. */
  dropUnbridged(): void {
    for (const c of [this.src, this.dest]) if (c && !hasBridge(c)) c.close();
  }
}

interface FolderJob {
  mapping: FolderMapping;
  stats: FolderStats;
  weight: number;
  /** The destination said the folder is missing (TRYCREATE): the next attempt creates it first. */
  createDest?: boolean;
}

/** The side an error came from (tagged by `onSide`), or undefined when it came from neither server. */
function sideOf(err: unknown): Side | undefined {
  const s = (err as { side?: Side } | undefined)?.side;
  return s === 'source' || s === 'destination' ? s : undefined;
}

/**
 * An error that is ours, not a server's: a bug (TypeError and the like) thrown outside
 * any IMAP command. Such an error is never retried as if a server had failed.
 */
function isOwnBug(err: unknown): boolean {
  return sideOf(err) === undefined && (err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError || err instanceof SyntaxError);
}

/**
 * The checkpoint store, with its failures turned into a {@link CopyError} (`STORE`,
 * Internal): a database error ends the pass at once, never retried as an IMAP error nor
 * reported as something a server said.
 */
function guardStore(store: CheckpointStore): CheckpointStore {
  const wrap =
    <A extends unknown[], R>(what: string, f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await f(...a);
      } catch (err) {
        throw new CopyError('STORE', 'Internal', `internal error: the checkpoint store failed to ${what}: ${(err as Error)?.message ?? String(err)}`.slice(0, 500), { cause: err });
      }
    };
  return {
    load: wrap('load checkpoints', (i: string) => store.load(i)),
    save: wrap('save a checkpoint', (i: string, cp: FolderCheckpoint) => store.save(i, cp)),
    recordSkipped: wrap('record refused messages', (i: string, l: SkippedMessage[]) => store.recordSkipped(i, l)),
    listSkipped: wrap('list refused messages', (i: string) => store.listSkipped(i)),
    clearSkipped: wrap('clear refused messages', (i: string, f: string, u: number[]) => store.clearSkipped(i, f, u)),
    recordAltered: wrap('record altered messages', async (i: string, l: AlteredMessage[]) => store.recordAltered?.(i, l)),
  };
}

function emptyStats(sourceFolder: string, destFolder: string): FolderStats {
  return {
    sourceFolder,
    destFolder,
    unchanged: false,
    flagsUpdated: 0,
    durationMs: 0,
    messagesPerSecond: 0,
    bytesPerSecond: 0,
    ...ZERO_COUNTERS,
  };
}

/**
 * Runs one pass of an item: lists both sides, maps folders, skips folders whose STATUS
 * matches the checkpoint, and copies the rest over several connection pairs, one folder
 * per pair, in MULTIAPPEND batches bounded by count and bytes. Every batch is bracketed by
 * checkpoint writes (intent before, confirmation after), so a crash at any moment resumes
 * without a duplicate or a loss. Dropped connections are retried with backoff; throttling
 * waits; refused messages are recorded and skipped; quota ends the pass. Never throws:
 * the outcome, failure reason and statistics come back as a {@link PassResult}.
 */
export async function runPass(passInput: PassInput): Promise<PassResult> {
  const input: PassInput = { ...passInput, checkpoints: guardStore(passInput.checkpoints) };
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(input.options ?? {}).filter(([, v]) => v !== undefined)) };
  const t0 = Date.now();
  const halt = new AbortController();
  /** Aborts on a stop or when the pass ends early: every wait of the pass is cut short by it. */
  const stopOrHalt = input.signal ? AbortSignal.any([input.signal, halt.signal]) : halt.signal;
  const folders: FolderStats[] = [];
  const current = new Set<string>();
  let phase: PassProgress['phase'] = 'listing';
  let foldersDone = 0;
  /** Folders whose message count is not known yet (no LIST-STATUS / STATUS answer): counted when planned. */
  const uncounted = new Set<string>();
  let errors = 0;
  let failure: { reason: PassFailureReason; detail: string } | null = null;
  let stoppedWithWork = false;
  let skippedAll: SkippedMessage[] = [];
  const isStopped = () => !!input.signal?.aborted;

  const fail = (reason: PassFailureReason, detail: string) => {
    if (!failure) failure = { reason, detail };
    halt.abort();
  };

  const totals = (): PassStats => {
    const sum = (k: keyof Omit<FolderStats, 'sourceFolder' | 'destFolder' | 'unchanged'>) => folders.reduce((s, f) => s + (f[k] as number), 0);
    for (const f of folders) {
      f.messagesPerSecond = f.durationMs > 0 ? (f.messagesCopied * 1000) / f.durationMs : 0;
      f.bytesPerSecond = f.durationMs > 0 ? (f.bytesCopied * 1000) / f.durationMs : 0;
    }
    const durationMs = Date.now() - t0;
    const copied = sum('messagesCopied');
    const bytes = sum('bytesCopied');
    return {
      itemId: input.itemId,
      folders: folders.map((f) => ({ ...f })),
      skipped: skippedAll,
      durationMs,
      messagesPerSecond: durationMs > 0 ? (copied * 1000) / durationMs : 0,
      bytesPerSecond: durationMs > 0 ? (bytes * 1000) / durationMs : 0,
      errors,
      messagesFound: sum('messagesFound'),
      bytesFound: sum('bytesFound'),
      messagesCopied: copied,
      bytesCopied: bytes,
      messagesPresent: sum('messagesPresent'),
      messagesSkipped: sum('messagesSkipped'),
      flagsUpdated: sum('flagsUpdated'),
      verification: summarizeVerification(folders),
    };
  };
  const emit = (final: boolean) => {
    if (!input.onProgress) return;
    const s = totals();
    try {
      input.onProgress({
        itemId: input.itemId,
        phase: final ? 'done' : phase,
        foldersTotal: folders.length,
        foldersDone,
        foldersUncounted: uncounted.size,
        current: [...current],
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
  };
  const timer = input.onProgress ? setInterval(() => emit(false), o.progressIntervalMs) : null;
  timer?.unref?.();

  /** Runs `work` with reconnects and backoff; returns false when the pass must end. */
  const withRetry = async (
    lane: Lane,
    work: (c: { src: ImapFlow; dest: ImapFlow }, progressed: () => void) => Promise<void>,
    job?: FolderJob,
  ): Promise<boolean> => {
    let attempt = 0;
    for (;;) {
      if (failure) return false;
      if (isStopped()) {
        stoppedWithWork = true;
        return false;
      }
      try {
        const c = await lane.ensure();
        await work(c, () => (attempt = 0));
        return true;
      } catch (err) {
        // A throttled command leaves its connection in order: keep it rather than log in
        // again (a fresh login is one more request to a server that asked us to slow down).
        if (classifyImapError(err) !== 'throttled' || !lane.usable) await lane.reset();
        if (err instanceof CopyError && err.code === 'DESTINATION_FOLDER_MISSING' && job && !job.createDest) {
          // The destination lost (or never had) the folder we append to: create it and retry
          // the folder from its checkpoint (the intent covers what went in). A second time ends the pass.
          job.createDest = true;
          continue;
        }
        if (err instanceof CopyError && err.code === 'FOLDER_REFUSED' && job) {
          // One folder the destination will not take: report it, go on with the others.
          job.stats.error = err.message;
          errors++;
          if (errors > o.maxErrors) {
            fail(err.reason, `more than ${o.maxErrors} errors; last: ${err.message}`);
            return false;
          }
          return true;
        }
        if (err instanceof CopyError) {
          fail(err.reason, err.message);
          return false;
        }
        if (isOwnBug(err)) {
          fail('Internal', `internal error: ${(err as Error).name}: ${(err as Error).message}`.slice(0, 500));
          return false;
        }
        const kind = classifyImapError(err);
        const side = sideOf(err);
        const detail = side ? `${side}: ${errorDetail(err)}` : errorDetail(err);
        if (kind === 'refused' || kind === 'quota') {
          fail(failureReasonFor(kind, side), detail);
          return false;
        }
        if (isStopped() && (kind === 'throttled' || kind === 'unreachable')) {
          // Stopping: a throttle is not waited out, and a connection the stop dropped is no error.
          stoppedWithWork = true;
          return false;
        }
        if (kind === 'throttled') {
          // imapflow already waited `throttleWaited` of the server's hint; wait out the rest
          // (1 s when the server gave no hint).
          const waited = (err as { throttleWaited?: number }).throttleWaited ?? 0;
          const hint = throttleHintMs(err);
          await abortableSleep(hint === undefined ? 1000 : Math.max(0, hint - waited), stopOrHalt);
          continue;
        }
        errors++;
        attempt++;
        if (errors > o.maxErrors) {
          fail(failureReasonFor(kind, side), `more than ${o.maxErrors} errors; last: ${detail}`);
          return false;
        }
        if (attempt > o.maxRetries) {
          fail(failureReasonFor(kind, side), `gave up after ${o.maxRetries} retries: ${detail}`);
          return false;
        }
        await abortableSleep(Math.min(30_000, o.retryBaseMs * 2 ** (attempt - 1)), stopOrHalt);
      }
    }
  };

  const lanes: Lane[] = [];
  const budget = new ByteBudget(o.memoryBudgetBytes);
  const perHour = input.options?.maxMessagesPerHour;
  const paceClock = input.paceClock ?? WALL_CLOCK;
  const pacer = perHour && perHour > 0 ? new Pacer(perHour, () => paceClock.now()) : null;
  // A stop must not wait out a throttle hint imapflow holds a command for (it can be
  // minutes, and FETCH retries several times): connections parked in such a wait are
  // dropped while stopping. The throttled command was answered, so nothing is cut off.
  let stopTimer: ReturnType<typeof setInterval> | null = null;
  let graceTimer: ReturnType<typeof setTimeout> | null = null;
  const onStop = () => {
    const drop = () => lanes.forEach((l) => l.dropThrottled());
    drop();
    // A throttle reply may still come for a command in flight at the moment of the stop.
    stopTimer = setInterval(drop, 100);
    stopTimer.unref?.();
    // Without the bridge a throttle wait cannot be seen: whatever such a connection still
    // does after a grace period is cut (an APPEND cut short is dropped whole by the server
    // and found again by the next pass's match, as after a crash).
    graceTimer = setTimeout(() => lanes.forEach((l) => l.dropUnbridged()), STOP_GRACE_MS);
    graceTimer.unref?.();
  };
  input.signal?.addEventListener('abort', onStop, { once: true });
  try {
    const checkpoints = await input.checkpoints.load(input.itemId);
    skippedAll = await input.checkpoints.listSkipped(input.itemId);
    const skippedByFolder = new Map<string, Set<number>>();
    for (const s of skippedAll) {
      if (!skippedByFolder.has(s.sourceFolder)) skippedByFolder.set(s.sourceFolder, new Set());
      skippedByFolder.get(s.sourceFolder)!.add(s.uid);
    }

    // 1. List both sides (LIST-STATUS gives MESSAGES/UIDNEXT/UIDVALIDITY in one round trip).
    const first = new Lane(input);
    lanes.push(first);
    let srcFolders: MailFolder[] = [];
    let destFolders: MailFolder[] = [];
    let namespaces: FolderNamespaces = {};
    const listed = await withRetry(first, async ({ src, dest }) => {
      [srcFolders, destFolders] = await Promise.all([onSide('source', listFolders(src, true)), onSide('destination', listFolders(dest, true))]);
      // Personal namespace prefixes (RFC 2342, e.g. `INBOX.`): folder names are mapped without them.
      namespaces = { source: personalNamespace(src), destination: personalNamespace(dest) };
    });
    if (!listed) return finish();

    // 2. Map folders; folders unchanged since their checkpoint need no SELECT at all.
    const mappings = mapFolders(
      srcFolders.filter((f) => f.selectable),
      destFolders,
      input.rules,
      namespaces,
    );
    // Destination folders holding fewer messages than were copied get a re-match checkpoint (verify-folder.ts).
    const missingAtStart = auditDestinations(mappings, checkpoints, skippedByFolder);
    const jobs: FolderJob[] = [];
    for (const m of mappings) {
      const stats = emptyStats(m.sourceName, m.destName);
      folders.push(stats);
      const cp = checkpoints.get(m.sourceName);
      const st = m.source.status;
      const dst = m.dest?.status;
      const skippedHere = skippedByFolder.get(m.sourceName)?.size ?? 0;
      if (
        // A folder with refused messages is opened on every pass: they are tried again.
        skippedHere === 0 &&
        cp && st && dst && m.dest?.selectable &&
        cp.uidValidity === st.uidValidity && !cp.rematchAll && cp.pendingToUid === null &&
        cp.srcUidNext === st.uidNext && cp.srcMessages === st.messages && cp.destUidValidity === dst.uidValidity &&
        // CONDSTORE (RFC 7162): a higher HIGHESTMODSEQ means flags changed; the folder is opened for a flag sync.
        (st.highestModseq === undefined || cp.srcHighestModseq === null || st.highestModseq === cp.srcHighestModseq)
      ) {
        stats.unchanged = true;
        stats.messagesFound = st.messages;
        stats.bytesFound = st.size ?? cp.srcBytes;
        stats.messagesSkipped = skippedHere;
        stats.messagesPresent = Math.max(0, st.messages - skippedHere);
        stats.verification = unchangedVerification(m.source, m.dest, skippedHere);
        foldersDone++;
        continue;
      }
      // Found counts are known before the folder is planned: progress never reads 100% of a part.
      // Without them (no LIST-STATUS or STATUS), the folder is counted when planned and progress says so.
      if (st?.messages === undefined) uncounted.add(m.sourceName);
      stats.messagesFound = st?.messages ?? 0;
      stats.bytesFound = st?.size ?? 0;
      jobs.push({ mapping: m, stats, weight: st?.size ?? st?.messages ?? 0 });
    }
    // Biggest folders first, so the last lane to finish does not start a huge one.
    jobs.sort((a, b) => b.weight - a.weight);
    phase = 'copying';

    const copyFolder = async (job: FolderJob, src: ImapFlow, dest: ImapFlow, progressed: () => void) => {
      const started = Date.now();
      try {
        await copyFolderOnce(job, src, dest, progressed);
      } finally {
        job.stats.durationMs += Date.now() - started;
      }
    };
    const copyFolderOnce = async (job: FolderJob, src: ImapFlow, dest: ImapFlow, progressed: () => void) => {
      const name = job.mapping.sourceName;
      const skipped = skippedByFolder.get(name) ?? new Set<number>();
      const plan = await planFolder(src, dest, job.mapping, checkpoints.get(name), skipped, { createDest: job.createDest });
      // Refused earlier and found at the destination now: no longer skipped.
      const unskip = async (uids: number[]) => {
        const gone = uids.filter((u) => skipped.has(u));
        if (!gone.length) return;
        await input.checkpoints.clearSkipped(input.itemId, name, gone);
        for (const u of gone) skipped.delete(u);
        skippedAll = skippedAll.filter((x) => x.sourceFolder !== name || skipped.has(x.uid));
        job.stats.messagesSkipped = skipped.size;
      };
      await unskip(plan.retryFound);
      let cp: FolderCheckpoint = { ...plan.checkpoint, messagesFound: plan.found, bytesFound: plan.bytesFound };
      const save = async (next: FolderCheckpoint) => {
        await input.checkpoints.save(input.itemId, next);
        checkpoints.set(name, next);
        cp = next;
      };
      await save(cp);
      const fs = job.stats;
      uncounted.delete(name);
      fs.messagesFound = plan.found;
      fs.bytesFound = plan.bytesFound;
      fs.messagesPresent = plan.present;
      fs.messagesSkipped = skipped.size;

      // Flag changes of messages already at the destination (source wins), before new mail
      // is appended: the destination then holds only the copies made by earlier passes.
      // Only CHANGEDSINCE the modseq of the last completion where the source has one (and
      // nothing at all when it did not move); every message otherwise.
      const since = cp.srcHighestModseq !== null && plan.srcHighestModseq !== null && plan.srcHighestModseq >= cp.srcHighestModseq ? cp.srcHighestModseq : null;
      const flagSync =
        since !== null && since === plan.srcHighestModseq
          ? { updated: 0, refused: 0 }
          : await syncFlags(src, dest, { throughUid: plan.flagSyncThroughUid, changedSince: since, skipped, permanentFlags: plan.dest.permanentFlags, destExists: plan.dest.exists });
      fs.flagsUpdated += flagSync.updated;
      if (flagSync.refused) {
        errors += flagSync.refused;
        if (errors > o.maxErrors) {
          fail('TooManyErrors', `more than ${o.maxErrors} errors; last: the destination refused to set the flags of ${flagSync.refused} message(s) in ${job.mapping.destName}`);
          return;
        }
      }
      if (flagSync.updated) progressed();

      // Under a rate limit a batch holds at most a minute's worth, so the pace stays even.
      const batches = splitBatches(plan.toCopy, pacer ? Math.min(o.batchMessages, pacer.perMinute) : o.batchMessages, o.batchBytes);
      let destUidNext = plan.dest.uidNext;
      const appendLimit = (dest.capabilities.get('APPENDLIMIT') as number | boolean | undefined) ?? undefined;
      // Where the destination takes LITERAL+ and MULTIAPPEND, each batch is piped from the
      // source FETCH into the APPEND (no message held in memory). Otherwise: fetch batch i+1
      // from the source while batch i is appended (different connections), within the
      // pass's shared memory budget (taken before the fetch, given back after the append or
      // when the batch is dropped). Both need the imapflow bridge (imapflow-bridge.ts); without
      // it a batch is fetched with imapflow and appended one message at a time.
      const bridged = hasBridge(src) && hasBridge(dest);
      const multi = o.multiAppend && bridged && dest.capabilities.has('MULTIAPPEND');
      const streaming = o.stream && multi && dest.capabilities.has('LITERAL+');
      let prefetch: Promise<OutgoingMessage[]> | null = null;
      const bytesOf = (b: MessageMeta[]) => b.reduce((s, m) => s + m.size, 0);
      const startFetch = (b: MessageMeta[]) => {
        const n = bytesOf(b);
        const p = budget.acquire(n).then(() =>
          onSide('source', fetchBodies(src, b)).catch((err: unknown) => {
            budget.release(n);
            throw err;
          }),
        );
        p.catch(() => undefined);
        return p;
      };
      let held = 0;
      let prefetchBytes = 0;
      if (batches.length && !streaming) {
        prefetchBytes = bytesOf(batches[0]);
        prefetch = startFetch(batches[0]);
      }
      try {
        for (let i = 0; i < batches.length; i++) {
          if (failure) return;
          if (pacer) {
            // Ahead of the provider's rate: wait (a stop cuts the wait short).
            const wait = pacer.reserve(batches[i].length);
            if (wait > 0) await paceClock.sleep(wait, stopOrHalt);
          }
          if (isStopped()) {
            stoppedWithWork = true;
            return;
          }
          const batch = batches[i];
          const bodies = streaming ? [] : await prefetch!;
          if (!streaming) {
            held = prefetchBytes;
            prefetchBytes = i + 1 < batches.length ? bytesOf(batches[i + 1]) : 0;
            prefetch = i + 1 < batches.length ? startFetch(batches[i + 1]) : null;
          }
          const batchMax = batch[batch.length - 1].uid;
          // Write-ahead: record that UIDs up to batchMax may land at destination UIDs ≥ destUidNext
          // (usually already written together with the previous batch's confirmation).
          if (cp.pendingToUid === null || cp.pendingToUid < batchMax || cp.destUidValidity !== plan.dest.uidValidity) {
            await save(withPending(cp, batchMax, destUidNext, plan.dest.uidValidity));
          }
          const appendOpts = { permanentFlags: plan.dest.permanentFlags, appendLimit: typeof appendLimit === 'number' ? appendLimit : undefined };
          const out = await (
            streaming
              ? streamBatch(src, dest, plan.dest.path, batch, appendOpts)
              : appendBatch(dest, plan.dest.path, bodies, { ...appendOpts, multi })
          ).finally(() => {
            budget.release(held);
            held = 0;
          });
          appendLogOf(fs).add(out, destUidNext);
          if (out.destUidNext) destUidNext = out.destUidNext;
          else {
            // No UIDPLUS (RFC 4315): ask for UIDNEXT so the next intent's floor is exact.
            const st = await onSide('destination', dest.status(plan.dest.path, { uidNext: true }));
            destUidNext = (st && st.uidNext) || destUidNext;
          }
          if (out.refused.length) {
            const rec = out.refused.map((r) => ({ sourceFolder: name, uid: r.message.uid, size: r.size, reason: r.reason }));
            await input.checkpoints.recordSkipped(input.itemId, rec);
            for (const r of rec) {
              skipped.add(r.uid);
              // A message refused again keeps one record, with the latest reason.
              skippedAll = skippedAll.filter((x) => x.sourceFolder !== name || x.uid !== r.uid);
              skippedAll.push(r);
            }
            skippedByFolder.set(name, skipped);
            fs.messagesSkipped = skipped.size;
            errors += rec.length;
          }
          const bytes = out.bytes;
          fs.messagesCopied += out.appended.length;
          fs.bytesCopied += bytes;
          await unskip(out.appended.map((m) => m.uid));
          const confirmed: FolderCheckpoint = {
            ...withConfirmed(cp, out.confirmedThrough ?? batchMax),
            messagesCopied: cp.messagesCopied + out.appended.length,
            bytesCopied: cp.bytesCopied + bytes,
            messagesSkipped: skipped.size,
          };
          // One write confirms this batch and announces the next one (halves the fsyncs).
          const next = !out.fatal && i + 1 < batches.length ? batches[i + 1] : null;
          await save(next ? withPending(confirmed, next[next.length - 1].uid, destUidNext, plan.dest.uidValidity) : confirmed);
          progressed();
          if (out.fatal) throw out.fatal;
          if (out.refused.length && errors > o.maxErrors) {
            fail('TooManyErrors', `more than ${o.maxErrors} errors; last: the destination refused message UID ${out.refused[0].message.uid} of ${name}: ${out.refused[0].reason}`);
            return;
          }
        }
      } finally {
        budget.release(held);
        held = 0;
        // A batch fetched ahead but not appended (stop, failure) gives its bytes back
        // (a failed fetch already did).
        const pending = prefetch as Promise<OutgoingMessage[]> | null;
        if (pending) await pending.then(() => budget.release(prefetchBytes)).catch(() => undefined);
      }
      // Folder complete: remember the source STATUS so an unchanged folder is skipped next time.
      await save({
        ...withConfirmed(cp, plan.maxUid),
        srcUidNext: plan.srcUidNext,
        srcMessages: plan.found,
        srcBytes: plan.bytesFound,
        rematchAll: false,
        // Flag changes up to here are at the destination; a refused STORE keeps the old
        // value, so the next pass tries again.
        srcHighestModseq: flagSync.refused ? cp.srcHighestModseq : plan.srcHighestModseq,
        messagesPresent: Math.max(0, plan.found - fs.messagesCopied - skipped.size),
      });
      fs.messagesPresent = Math.max(0, plan.found - fs.messagesCopied - skipped.size);
      // Counts and alterations of what this pass appended (verify-folder.ts).
      await verifyFolderEnd(src, dest, plan, {
        sourceFolder: name,
        destFolder: job.mapping.destName,
        skipped: skipped.size,
        missingAtStart: missingAtStart.get(name) ?? 0,
        copied: fs.messagesCopied,
        log: appendLogOf(fs),
        stats: fs,
        itemId: input.itemId,
        store: input.checkpoints,
        requeue: () => save(requeued(cp)),
      });
    };

    // 3. Copy: each lane takes the next folder; one folder is never shared by two lanes.
    // Source folders that land in the same destination folder (e.g. "Sent" mapped by special
    // use onto an existing "Sent Items", beside a source "Sent Items") go to the same lane,
    // one after the other: a crash-recovery match must only see its own folder's appends.
    const queue = [...jobs];
    const busyDest = new Set<string>();
    const nextJob = (): FolderJob | undefined => {
      const i = queue.findIndex((j) => !busyDest.has(j.mapping.destName.toLowerCase()));
      return i < 0 ? undefined : queue.splice(i, 1)[0];
    };
    const nLanes = Math.max(1, Math.min(o.connections, new Set(jobs.map((j) => j.mapping.destName.toLowerCase())).size));
    for (let i = 1; i < nLanes; i++) lanes.push(new Lane(input));
    await Promise.all(
      lanes.slice(0, nLanes).map(async (lane) => {
        for (;;) {
          if (failure) return;
          if (isStopped()) {
            if (queue.length) stoppedWithWork = true;
            return;
          }
          if (!queue.length) return;
          const job = nextJob();
          if (!job) {
            // Every remaining folder shares its destination with one in progress: wait for it.
            await abortableSleep(50, stopOrHalt);
            continue;
          }
          const destKey = job.mapping.destName.toLowerCase();
          busyDest.add(destKey);
          current.add(job.mapping.sourceName);
          const ok = await withRetry(lane, ({ src, dest }, progressed) => copyFolder(job, src, dest, progressed), job);
          current.delete(job.mapping.sourceName);
          busyDest.delete(destKey);
          if (ok && !stoppedWithWork) foldersDone++;
          if (!ok) return;
        }
      }),
    );
    return finish();
  } catch (err) {
    // Store failures and bugs: the pass fails as Internal with the detail.
    fail(err instanceof CopyError ? err.reason : 'Internal', errorDetail(err));
    return finish();
  } finally {
    if (timer) clearInterval(timer);
    input.signal?.removeEventListener('abort', onStop);
    if (stopTimer) clearInterval(stopTimer);
    if (graceTimer) clearTimeout(graceTimer);
    await Promise.all(lanes.map((l) => l.reset()));
  }

  function finish(): PassResult {
    emit(true);
    const stats = totals();
    const f = failure as { reason: PassFailureReason; detail: string } | null;
    if (f) return { outcome: 'failed', reason: f.reason, detail: f.detail, stats };
    if (stoppedWithWork || (isStopped() && foldersDone < folders.length)) return { outcome: 'stopped', stats };
    return { outcome: 'completed', stats };
  }
}
