import type { Engine, Item, Project } from '../engine.ts';
import { LEASE_MS, itemRef, projectOptions } from '../engine.ts';
import { appendHistory } from '../store/history.ts';
import { SYSTEM_ACTOR, type FailureReason, type Side } from '../domain/types.ts';
import { parseConnectorUrl } from '../domain/connector-url.ts';
import type { PassFigures } from '../events.ts';
import type { CheckpointStore, CopyCounters, PassInput, PassOptions, PassProgress, PassResult, PassStats } from '../copy/index.ts';
import type { ConnectorEndpoint } from '../connectors/index.ts';

/** What the runner logs through (the bot's Logger fits). */
export interface RunnerLog {
  info(msg: string, f?: Record<string, unknown>): void;
  warn(msg: string, f?: Record<string, unknown>): void;
  error(msg: string, f?: Record<string, unknown>): void;
}

/** Runner settings. */
export interface RunnerOptions {
  /** Passes at once in this process. Default 2 (a 2-core box: copying is I/O bound, each pass already uses several connections). */
  concurrency?: number;
  /** How often to look for queued items when nothing wakes the runner (ms). Default 2000. */
  pollMs?: number;
  /** How often a running pass checks whether an admin asked it to stop (ms). Default 1000. */
  stopCheckMs?: number;
  /** Tuning handed to every pass. */
  pass?: PassOptions;
}

type ItemWithProject = Item & { project: Project };
type RunPass = (input: PassInput) => Promise<PassResult>;

/**
 * The job runner: takes queued items (`Queued` → `Running`) up to the concurrency, runs one
 * pass per item at a time, reports progress, and records the outcome through the state
 * machine. `stop` by an admin ends a pass at the next message boundary; shutdown
 * checkpoints in-flight passes and puts their items back in the queue for the next start.
 */
export class Runner {
  private running = new Map<string, { ctl: AbortController; done: Promise<void>; shutdown: boolean }>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private filling = false;
  private unsubscribe: (() => void) | null = null;
  private readonly o: Required<Omit<RunnerOptions, 'pass'>> & { pass: PassOptions };

  constructor(
    private engine: Engine,
    private checkpoints: CheckpointStore,
    private runPass: RunPass,
    private log: RunnerLog,
    opts: RunnerOptions = {},
  ) {
    this.o = { concurrency: opts.concurrency ?? 2, pollMs: opts.pollMs ?? 2000, stopCheckMs: opts.stopCheckMs ?? 1000, pass: opts.pass ?? {} };
  }

  /** Starts: items a dead process left `Running` (lease expired) are queued again (they resume from their checkpoints), then the queue is worked. */
  async start(): Promise<void> {
    this.stopped = false;
    const orphans = await this.engine.requeueOrphans();
    if (orphans) this.log.warn('resuming passes interrupted by a previous stop', { items: orphans });
    // Wake at once when an item is queued rather than waiting for the next poll.
    this.unsubscribe = this.engine.bus.on((e) => {
      if (e.type === 'item.status' && e.to === 'Queued') void this.fill();
    });
    let polls = 0;
    this.timer = setInterval(() => {
      // Now and then, resume passes of processes that died since (their lease ran out).
      if (++polls * this.o.pollMs >= LEASE_MS / 3) {
        polls = 0;
        void this.engine.requeueOrphans().catch((e) => this.log.error('could not look for dead passes', { error: e instanceof Error ? e.message : String(e) }));
      }
      void this.fill();
    }, this.o.pollMs);
    this.timer.unref();
    await this.fill();
  }

  /** Number of passes running now. */
  get active(): number {
    return this.running.size;
  }

  /** Shutdown: every running pass checkpoints and stops; its item goes back to `Queued`. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    for (const r of this.running.values()) {
      r.shutdown = true;
      r.ctl.abort();
    }
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /** Claims queued items while there is room. */
  private async fill(): Promise<void> {
    if (this.filling || this.stopped) return;
    this.filling = true;
    try {
      while (!this.stopped && this.running.size < this.o.concurrency) {
        const item = await this.engine.claimNext([...this.running.keys()]);
        if (!item) break;
        const entry = { ctl: new AbortController(), done: Promise.resolve(), shutdown: false };
        this.running.set(item.id, entry);
        entry.done = this.runItem(item, entry)
          .catch((e) => this.log.error('runner failed on an item', { item: item.id, error: e instanceof Error ? e.message : String(e) }))
          .finally(() => {
            this.running.delete(item.id);
            if (!this.stopped) void this.fill();
          });
      }
    } catch (e) {
      this.log.error('runner could not claim work', { error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.filling = false;
    }
  }

  private async endpoint(item: ItemWithProject, side: Side): Promise<ConnectorEndpoint | { fail: FailureReason; detail: string }> {
    const url = side === 'source' ? item.project.sourceUrl : item.project.destinationUrl;
    const parsed = parseConnectorUrl(url, side);
    if (parsed.kind !== 'imap')
      return { fail: side === 'source' ? 'UnsupportedSource' : 'Internal', detail: `The ${side} connector ${parsed.url} is not available in this version of MailFerry (IMAP only).` };
    const cred = await this.engine.credentialOf(item.id, side);
    if (!cred) return { fail: side === 'source' ? 'SourceCredentials' : 'DestinationCredentials', detail: `No ${side} credentials are stored.` };
    const secret = cred.secret.accessToken ? { accessToken: cred.secret.accessToken } : { password: cred.secret.password ?? '' };
    return { url: parsed.url, login: cred.login, secret };
  }

  private async runItem(item: ItemWithProject, entry: { ctl: AbortController; shutdown: boolean }): Promise<void> {
    const t0 = Date.now();
    const source = await this.endpoint(item, 'source');
    const destination = await this.endpoint(item, 'destination');
    for (const ep of [source, destination]) {
      if ('fail' in ep) {
        await this.engine.finishPass(item.id, 'failed', emptyFigures(Date.now() - t0), { reason: ep.fail, detail: ep.detail });
        return;
      }
    }
    this.log.info('pass started', { item: item.id, pass: item.passCount });
    const ref = itemRef(item);
    let moved = false;
    const markMoved = async () => {
      if (moved) return;
      moved = true;
      await this.engine.markDataMoved(item.id);
    };
    // An admin's `stop` sets a flag in the database (it may come from another process);
    // the same tick renews the pass's lease so no other process takes it for dead.
    let ticks = 0;
    const poll = setInterval(async () => {
      try {
        if (await this.engine.stopRequested(item.id)) entry.ctl.abort();
        if (++ticks * this.o.stopCheckMs >= LEASE_MS / 3) {
          ticks = 0;
          await this.engine.renewLease(item.id);
        }
      } catch {
        /* a failed check is retried on the next tick */
      }
    }, this.o.stopCheckMs);
    poll.unref();
    const opts = projectOptions(item.project);
    let result: PassResult;
    try {
      result = await this.runPass({
        itemId: item.id,
        source: source as ConnectorEndpoint,
        destination: destination as ConnectorEndpoint,
        rules: { include: opts.include, exclude: opts.exclude, rename: opts.rename },
        signal: entry.ctl.signal,
        checkpoints: this.checkpoints,
        options: opts.maxMessagesPerHour ? { ...this.o.pass, maxMessagesPerHour: opts.maxMessagesPerHour } : this.o.pass,
        onProgress: (p: PassProgress) => {
          if (p.messagesCopied > 0) void markMoved();
          if (!p.final) this.engine.bus.emit({ type: 'item.progress', item: ref, figures: figures(p, p.elapsedMs), folder: p.current[0] });
        },
      });
    } finally {
      clearInterval(poll);
    }
    if (result.stats.messagesCopied > 0 || result.outcome === 'completed') await markMoved();
    const f = figures(result.stats, result.stats.durationMs);
    if (result.outcome === 'stopped' && entry.shutdown) {
      // Shutdown, not an admin: back to the queue, resumed from the checkpoint on the next start.
      await this.engine.db.$transaction(async (tx) => {
        await tx.item.update({ where: { id: item.id }, data: { status: 'Queued' } });
        await appendHistory(tx, { projectId: item.projectId, itemId: item.id, address: item.sourceAddress, actor: SYSTEM_ACTOR, kind: 'interrupted', fromStatus: 'Running', toStatus: 'Queued', detail: { why: 'MailFerry is shutting down; the pass resumes from its checkpoint on the next start', figures: f } });
      });
      this.log.info('pass checkpointed for shutdown', { item: item.id });
      return;
    }
    await this.engine.finishPass(item.id, result.outcome, f, result.outcome === 'failed' ? { reason: (result.reason ?? 'Internal') as FailureReason, detail: result.detail } : undefined);
    this.log.info('pass finished', { item: item.id, outcome: result.outcome, reason: result.reason, copied: f.messagesCopied, ms: f.durationMs });
  }
}

function figures(s: CopyCounters & { skipped?: PassStats['skipped']; flagsUpdated?: number }, durationMs: number): PassFigures {
  const { messagesFound, bytesFound, messagesCopied, bytesCopied, messagesPresent, messagesSkipped } = s;
  const skippedReasons: Record<string, number> = {};
  for (const k of s.skipped ?? []) skippedReasons[k.reason] = (skippedReasons[k.reason] ?? 0) + 1;
  return { messagesFound, bytesFound, messagesCopied, bytesCopied, messagesPresent, messagesSkipped, durationMs, skippedReasons, ...(s.flagsUpdated ? { flagsUpdated: s.flagsUpdated } : {}) };
}

function emptyFigures(durationMs: number): PassFigures {
  return { messagesFound: 0, bytesFound: 0, messagesCopied: 0, bytesCopied: 0, messagesPresent: 0, messagesSkipped: 0, durationMs };
}
