import { traced } from '../trace.ts';
import { SealedSecretError } from '../vault/vault.ts';
import type { Engine, Item, Project } from '../engine.ts';
import { LEASE_MS, itemRef } from '../engine.ts';
import { ProjectOptionsError, readProjectOptions } from '../domain/project-options.ts';
import { parsePassKind, passKindLabel, passWindow, passWindowView, type PassWindowView } from '../domain/pass-kind.ts';
import type { FailureReason, Side } from '../domain/types.ts';
import { parseConnectorUrl, type ConnectorUrl } from '../domain/connector-url.ts';
import { m365Settings } from '../connectors/m365/settings.ts';
import type { M365Settings } from '../connectors/m365/types.ts';
import { m365Endpoint, type M365AppCredential } from './m365-endpoint.ts';
import type { PassFigures } from '../events.ts';
import { dbFaultOf, type DbFault } from '../store/db-faults.ts';
import { CopyError, ZERO_COUNTERS } from '../copy/types.ts';
import type {
  CheckpointStore,
  CopyCounters,
  PassInput,
  PassOptions,
  PassProgress,
  PassResult,
  PassStats,
} from '../copy/index.ts';
import type { ConnectorEndpoint } from '../connectors/index.ts';

/** Why a pass cannot start (recorded as the item's failure). */
type Unstartable = { fail: FailureReason; detail: string };

/** What the runner logs through (the bot's Logger fits). */
export interface RunnerLog {
  info(msg: string, f?: Record<string, unknown>): void;
  warn(msg: string, f?: Record<string, unknown>): void;
  error(msg: string, f?: Record<string, unknown>): void;
}

/** Runner settings. */
export interface RunnerOptions {
  /**
   * Passes at once in this process. Default 2 (a 2-core box: copying is I/O bound, each pass already uses several
   * connections).
   */
  concurrency?: number;
  /**
   * How often to look for queued items while there is work about (ms). Default 2000. Each
   * look that finds nothing doubles the wait, up to `idlePollMs`; an item queued in this
   * process wakes the runner at once and brings the wait back to `pollMs`.
   */
  pollMs?: number;
  /**
   * The longest wait between two looks while idle (ms): an item queued by another process on
   * the same database starts within it. Default 15 × `pollMs` (30 s).
   */
  idlePollMs?: number;
  /** How often a running pass checks whether an admin asked it to stop (ms). Default 1000. */
  stopCheckMs?: number;
  /** Tuning handed to every pass. */
  pass?: PassOptions;
  /**
   * Longest pause between attempts to record a pass's outcome while the database cannot be written (ms). Default 5000.
   */
  recordRetryMaxMs?: number;
  /** The clock copy windows are read by (tests set the time of day). Default: the system's. */
  now?: () => Date;
  /** Microsoft 365 sides (m365:// URLs). */
  m365?: {
    /** Where Microsoft's identity platform is. Default: from the environment (MICROSOFT_AUTHORITY_HOST). */
    settings?: M365Settings;
  };
}

type ItemWithProject = Item & { project: Project };
type RunPass = (input: PassInput) => Promise<PassResult>;
/**
 * One pass this runner is running: how to end it, and why it was ended. `copying` is false
 * once the copy itself is over and only its outcome is being recorded: the item is still
 * this runner's (kept from the orphan sweep and from a second claim), but its place among
 * the `concurrency` passes goes to the next queued item at once.
 */
type Entry = { ctl: AbortController; done: Promise<void>; shutdown: boolean; pausedUntil?: Date; copying: boolean };

/**
 * The job runner: takes queued items (`Queued` → `Running`) up to the concurrency, runs one
 * pass per item at a time, reports progress, and records the outcome through the state
 * machine. `stop` by an admin ends a pass at the next message boundary; shutdown
 * checkpoints in-flight passes and puts their items back in the queue for the next start.
 */
export class Runner {
  private running = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  /** The wait before the next look; doubles while looks find nothing. */
  private wait = 0;
  /** When the last sweep for passes of dead processes ran. */
  private sweptAt = 0;
  private stopped = true;
  private filling = false;
  /** The claims in flight (a `fill`): `stop` waits for them, so no pass starts after it. */
  private fillDone: Promise<unknown> = Promise.resolve();
  /** A wake came while claiming: look once more before resting (the item may be newer than the look). */
  private refill = false;
  private unsubscribe: (() => void) | null = null;
  /** Aborted on shutdown: wakes anything waiting for the database to take writes again. */
  private halt = new AbortController();
  private readonly o: Required<Omit<RunnerOptions, 'pass' | 'm365' | 'now'>> & {
    pass: PassOptions;
    m365: NonNullable<RunnerOptions['m365']>;
  };
  private readonly now: () => Date;

  constructor(
    private engine: Engine,
    private checkpoints: CheckpointStore,
    private runPass: RunPass,
    private log: RunnerLog,
    opts: RunnerOptions = {},
  ) {
    const pollMs = opts.pollMs ?? 2000;
    this.now = opts.now ?? (() => new Date());
    this.o = {
      concurrency: opts.concurrency ?? 2,
      pollMs,
      idlePollMs: Math.max(pollMs, opts.idlePollMs ?? pollMs * 15),
      stopCheckMs: opts.stopCheckMs ?? 1000,
      recordRetryMaxMs: opts.recordRetryMaxMs ?? 5000,
      pass: opts.pass ?? {},
      m365: opts.m365 ?? {},
    };
  }

  /**
   * Starts: items a dead process left `Running` (lease expired) are queued again (they resume from their checkpoints),
   * then the queue is worked.
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.halt = new AbortController();
    const orphans = await this.engine.requeueOrphans();
    if (orphans) this.log.warn('resuming passes interrupted by a previous stop', { items: orphans });
    this.sweptAt = Date.now();
    // Wake at once when an item is queued rather than waiting for the next poll.
    this.unsubscribe = this.engine.bus.on((e) => {
      if (e.type === 'item.status' && e.to === 'Queued') this.wake();
    });
    this.wait = this.o.pollMs;
    await this.fill();
    this.plan();
  }

  /** Looks for work now, and at `pollMs` after (the wait grows again while nothing is found). */
  private wake(): void {
    if (this.stopped) return;
    this.wait = this.o.pollMs;
    this.plan();
    void this.fill();
  }

  /** Plans the next look in `wait` ms, or sooner when the sweep for dead passes is due (replacing a later one). */
  private plan(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const sweepIn = Math.max(0, this.sweptAt + LEASE_MS / 3 - Date.now());
    this.timer = setTimeout(() => void this.tick(), Math.min(this.wait, sweepIn));
    this.timer.unref();
  }

  /**
   * One look: now and then resume passes of processes that died since (their lease ran
   * out), then claim queued items. A look that claims nothing while nothing runs doubles
   * the wait up to `idlePollMs`: idle, the database is asked a few times a minute.
   */
  private async tick(): Promise<void> {
    this.timer = null;
    if (Date.now() - this.sweptAt >= LEASE_MS / 3) {
      this.sweptAt = Date.now();
      await this.engine
        .requeueOrphans([...this.running.keys()])
        .catch((e) =>
          this.log.error('could not look for dead passes', { error: e instanceof Error ? e.message : String(e) }),
        );
    }
    const claimed = await this.fill();
    if (this.timer) return; // woken meanwhile: that wake planned the next look
    this.wait = claimed || this.running.size ? this.o.pollMs : Math.min(this.o.idlePollMs, this.wait * 2);
    this.plan();
  }

  /** Number of passes running now (their outcome recorded or not). */
  get active(): number {
    return this.running.size;
  }

  /** Passes still copying: what the concurrency limits. */
  private get copying(): number {
    let n = 0;
    for (const e of this.running.values()) if (e.copying) n++;
    return n;
  }

  /** Shutdown: every running pass checkpoints and stops; its item goes back to `Queued`. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halt.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    for (const r of this.running.values()) {
      r.shutdown = true;
      r.ctl.abort();
    }
    // A claim answered from now on gives its item back (claimWhileRoom); passes begun before were aborted above.
    await this.fillDone;
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /** Claims queued items while there is room; returns how many it claimed. */
  private fill(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    if (this.filling) {
      this.refill = true;
      return Promise.resolve(0);
    }
    this.filling = true;
    this.refill = false;
    const run = this.claimWhileRoom().finally(() => {
      this.filling = false;
    });
    this.fillDone = run;
    return run;
  }

  /** The claims of one `fill`; never throws (a failed claim is logged and the next look tries again). */
  private async claimWhileRoom(): Promise<number> {
    let claimed = 0;
    try {
      // Items of projects whose copy window is closed wait for it to open.
      const closed =
        this.copying < this.o.concurrency
          ? [...(await traced('runner windows', '-', this.engine.closedWindows(this.now()))).keys()]
          : [];
      while (!this.stopped && this.copying < this.o.concurrency) {
        const item = await traced('runner claim', '-', this.engine.claimNext([...this.running.keys()], closed));
        if (!item && this.refill) {
          this.refill = false;
          continue;
        }
        if (!item) break;
        if (this.stopped) {
          // Claimed while the runner stopped: back to the queue, no pass is begun after stop.
          await this.giveBack(item.id);
          break;
        }
        claimed++;
        const entry: Entry = { ctl: new AbortController(), done: Promise.resolve(), shutdown: false, copying: true };
        this.running.set(item.id, entry);
        entry.done = this.runItem(item, entry)
          .catch((e) =>
            this.log.error('runner failed on an item', {
              item: item.id,
              error: e instanceof Error ? e.message : String(e),
            }),
          )
          .finally(() => {
            this.running.delete(item.id);
            if (!this.stopped) void this.fill();
          });
      }
    } catch (e) {
      this.log.error('runner could not claim work', { error: e instanceof Error ? e.message : String(e) });
    }
    return claimed;
  }

  /** An item claimed as the runner stopped goes back to the queue; if that fails, its lease runs out. */
  private async giveBack(itemId: string): Promise<void> {
    try {
      await this.engine.interruptPass(itemId, emptyFigures(0));
      this.log.info('an item claimed as the runner stopped is back in the queue', { item: itemId });
    } catch (e) {
      this.log.warn('an item claimed as the runner stopped waits for its lease to run out', {
        item: itemId,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  private async endpoint(item: ItemWithProject, side: Side): Promise<ConnectorEndpoint | Unstartable> {
    const url = side === 'source' ? item.project.sourceUrl : item.project.destinationUrl;
    const parsed = parseConnectorUrl(url, side);
    if (parsed.kind === 'm365') return this.m365Side(item, side, parsed);
    // Project admin credentials (`project connect`) win: the admin logs in as the mailbox.
    // Both are read at once; the item's own is used (and opened) only where the project has none.
    const [admin, own] = await Promise.all([
      this.engine.adminCredentialOf(item.projectId, side),
      this.engine.credentialOf(item.id, side).then(
        (c) => ({ c }),
        (e: unknown) => ({ e }),
      ),
    ]);
    const login = side === 'source' ? item.sourceLogin : item.destinationLogin;
    if (admin?.kind === 'imap-master')
      return {
        url: parsed.url,
        login,
        secret: { password: admin.password },
        master: { user: admin.user, style: admin.style, ...(admin.separator ? { separator: admin.separator } : {}) },
      };
    if ('e' in own) throw own.e;
    const cred = own.c;
    if (!cred)
      return {
        fail: side === 'source' ? 'SourceCredentials' : 'DestinationCredentials',
        detail: `No ${side} credentials are stored.`,
      };
    const secret = cred.secret.accessToken
      ? { accessToken: cred.secret.accessToken }
      : { password: cred.secret.password ?? '' };
    return { url: parsed.url, login: cred.login, secret };
  }

  /**
   * A Microsoft 365 side: the user's own sign-in (its refresh token, stored like any
   * credential) or the project's app registration; a refresh token the authority rotates is
   * sealed again in place of the old one.
   */
  private async m365Side(
    item: ItemWithProject,
    side: Side,
    parsed: Extract<ConnectorUrl, { kind: 'm365' }>,
  ): Promise<ConnectorEndpoint | Unstartable> {
    let settings: M365Settings;
    try {
      settings = this.o.m365.settings ?? m365Settings();
    } catch (e) {
      return { fail: 'Internal', detail: e instanceof Error ? e.message : String(e) };
    }
    const cred = await this.engine.credentialOf(item.id, side);
    // The app registration an admin connected for this side (`project connect`), if any.
    const admin = await this.engine.adminCredentialOf(item.projectId, side);
    const app: M365AppCredential | undefined =
      admin?.kind === 'm365-app'
        ? { clientId: admin.clientId, clientSecret: admin.clientSecret, certificate: admin.certificate }
        : undefined;
    const login = cred?.login || (side === 'source' ? item.sourceLogin : item.destinationLogin);
    return m365Endpoint({
      url: parsed.url,
      tenantId: parsed.tenantId,
      side,
      login,
      app,
      refreshToken: cred?.secret.refreshToken,
      settings,
      onRotated: cred
        ? (refreshToken) => this.engine.resealSecret(item.id, side, { ...cred.secret, refreshToken })
        : undefined,
    });
  }

  /**
   * Both sides' endpoints, or why the pass cannot start. A stored secret the current key
   * cannot open ends in a recorded failure: thrown, it would leave the item Running under
   * this process's lease, requeued as an orphan when the lease runs out and failing the same
   * way again, forever. Any other error (a database that does not answer) is thrown as
   * before: the item is taken up again once its lease runs out.
   */
  private async endpoints(
    item: ItemWithProject,
  ): Promise<[ConnectorEndpoint | Unstartable, ConnectorEndpoint | Unstartable]> {
    const side = async (s: Side): Promise<ConnectorEndpoint | Unstartable> => {
      try {
        return await this.endpoint(item, s);
      } catch (e) {
        if (!(e instanceof SealedSecretError)) throw e;
        this.log.error('could not prepare the pass: stored credentials cannot be opened', { item: item.id, side: s });
        return {
          fail: 'Internal',
          detail:
            `The stored ${s} credentials cannot be opened with the current ENCRYPTION_KEY ` +
            `(was the key changed without \`mailferry rotate-key\`?). Ask for them again.`,
        };
      }
    };
    // Both sides at once (each reads its admin credentials and the item's own).
    return Promise.all([side('source'), side('destination')]);
  }

  private async runItem(item: ItemWithProject, entry: Entry): Promise<void> {
    const ready = await this.prepare(item, Date.now());
    if (!ready) return;
    const { source, destination, options: opts, dates, pass } = ready;
    this.log.info('pass started', {
      item: item.id,
      pass: item.passCount,
      kind: passKindLabel(parsePassKind(item.passKind)),
      ...(dates ? { since: pass.since, before: pass.before } : {}),
    });
    const faults = new FirstFault();
    const markMoved = this.licenseOnFirstCopy(item.id, entry, faults);
    const unwatch = this.watch(item, entry);
    let result: PassResult;
    try {
      result = await traced(
        'runner pass',
        item.id,
        this.runPass({
          itemId: item.id,
          source,
          destination,
          rules: { include: opts.include, exclude: opts.exclude, rename: opts.rename },
          ...(dates ? { dates } : {}),
          signal: entry.ctl.signal,
          checkpoints: guardStore(this.checkpoints, faults.note),
          options: opts.maxMessagesPerHour
            ? { ...this.o.pass, maxMessagesPerHour: opts.maxMessagesPerHour }
            : this.o.pass,
          onProgress: this.progressOf(item, pass, markMoved),
        }),
      );
    } finally {
      unwatch();
      // The copy is over: the next queued item starts while this one's outcome is recorded.
      entry.copying = false;
      if (!this.stopped) void this.fill();
    }
    await traced('runner record', item.id, this.recordOutcome(item.id, entry, result, faults.first, pass));
  }

  /**
   * What a pass needs before it starts: both sides' endpoints, the project's options (folder
   * rules and the provider's rate: a pass never runs without them) and the pass's date window
   * (its kind, start --prestage N | --full, and the project's date range). When one cannot be
   * had, the item fails at once and this returns undefined.
   */
  private async prepare(item: ItemWithProject, t0: number) {
    const [source, destination] = await traced('runner endpoints', item.id, this.endpoints(item));
    const read = readProjectOptions(item.project.options);
    if ('fail' in source) return this.failUnstarted(item.id, t0, source);
    if ('fail' in destination) return this.failUnstarted(item.id, t0, destination);
    if (read.problems.length) {
      const detail = new ProjectOptionsError(item.project.name, read.problems).message;
      return this.failUnstarted(item.id, t0, { fail: 'Internal', detail });
    }
    const dates = passWindow(parsePassKind(item.passKind), read.options, new Date());
    const pass = passWindowView(parsePassKind(item.passKind), dates);
    return { source, destination, options: read.options, dates, pass };
  }

  private async failUnstarted(itemId: string, t0: number, why: Unstartable): Promise<undefined> {
    await this.record(itemId, () =>
      this.engine.finishPass(itemId, 'failed', emptyFigures(Date.now() - t0), { reason: why.fail, detail: why.detail }),
    );
    return undefined;
  }

  /**
   * The license is consumed once data moved: marked at the pass's first copied message (and
   * again with the outcome when that failed). A database fault there ends the pass.
   */
  private licenseOnFirstCopy(itemId: string, entry: Entry, faults: FirstFault): () => Promise<void> {
    let moved = false;
    return async () => {
      if (moved) return;
      moved = true;
      try {
        await traced('runner data-moved', itemId, this.engine.markDataMoved(itemId));
      } catch (e) {
        moved = false; // done again with the outcome
        if (faults.note(e)) entry.ctl.abort();
        else
          this.log.error('could not mark the license consumed', {
            item: itemId,
            error: e instanceof Error ? e.message : String(e),
          });
      }
    };
  }

  /**
   * Watches a running pass: an admin's `stop` sets a flag in the database (it may come from
   * another process), and the project's copy window may close: either ends the pass at the
   * next checkpoint. The same tick renews the pass's lease so no other process takes it for
   * dead. Returns what ends the watch.
   */
  private watch(item: ItemWithProject, entry: Entry): () => void {
    let ticks = 0;
    const poll = setInterval(async () => {
      try {
        if (await this.engine.stopRequested(item.id)) entry.ctl.abort();
        const w = await this.engine.windowNow(item.projectId, this.now());
        if (w && !w.open && !entry.pausedUntil) {
          entry.pausedUntil = w.next;
          entry.ctl.abort();
        }
        if (++ticks * this.o.stopCheckMs >= LEASE_MS / 3) {
          ticks = 0;
          await this.engine.renewLease(item.id);
        }
      } catch {
        /* a failed check is retried on the next tick */
      }
    }, this.o.stopCheckMs);
    poll.unref();
    return () => clearInterval(poll);
  }

  /** The pass's progress: the license marked at the first copy, and the item's progress told on the bus. */
  private progressOf(item: ItemWithProject, pass: PassWindowView, markMoved: () => Promise<void>) {
    const ref = itemRef(item);
    return (p: PassProgress) => {
      if (p.messagesCopied > 0) void markMoved();
      if (!p.final)
        this.engine.bus.emit({
          type: 'item.progress',
          item: ref,
          figures: figures(p, p.elapsedMs, pass),
          folder: p.current[0],
          stage: {
            phase: p.phase === 'listing' ? 'listing' : 'copying',
            foldersTotal: p.foldersTotal,
            foldersUncounted: p.foldersUncounted,
          },
        });
    };
  }

  /**
   * Records how a pass ended: failed with the database's reason when it could not keep its
   * checkpoints, back to the queue on shutdown or when the copy window closed (an admin's
   * stop wins), otherwise its outcome.
   */
  private async recordOutcome(
    itemId: string,
    entry: Entry,
    result: PassResult,
    fault: { fault: DbFault; error: unknown } | undefined,
    pass: PassWindowView,
  ): Promise<void> {
    const f = figures(result.stats, result.stats.durationMs, pass);
    const moves = result.stats.messagesCopied > 0 || result.outcome === 'completed';
    if (fault) {
      // The pass could not keep its checkpoints: it fails with the database's reason (what
      // it copied is at the destination; the next pass finds it there). Recorded as soon
      // as the database takes writes again.
      const detail =
        fault.error instanceof Error
          ? (fault.error.message.split('\n').filter(Boolean).pop() ?? fault.error.message)
          : String(fault.error);
      this.log.error('pass ended: the database cannot be written', { item: itemId, fault: fault.fault, error: detail });
      const reason: FailureReason = fault.fault === 'full' ? 'DatabaseFull' : 'DatabaseUnwritable';
      await this.record(itemId, async () => {
        if (moves) await this.engine.markDataMoved(itemId);
        return this.engine.finishPass(itemId, 'failed', f, { reason, detail });
      });
      return;
    }
    if (result.outcome === 'stopped' && entry.shutdown) {
      // Shutdown, not an admin: back to the queue, resumed from the checkpoint on the next start.
      await this.record(itemId, async () => {
        if (moves) await this.engine.markDataMoved(itemId);
        await this.engine.interruptPass(itemId, f);
      });
      this.log.info('pass checkpointed for shutdown', { item: itemId });
      return;
    }
    const pausedUntil = entry.pausedUntil;
    if (result.outcome === 'stopped' && pausedUntil && !(await this.engine.stopRequested(itemId).catch(() => false))) {
      // The copy window closed (an admin's stop wins): back to the queue until it opens.
      await this.record(itemId, async () => {
        if (moves) await this.engine.markDataMoved(itemId);
        await this.engine.pausePass(itemId, f, pausedUntil);
      });
      this.log.info('pass paused: the copy window closed', {
        item: itemId,
        until: pausedUntil.toISOString(),
        copied: f.messagesCopied,
      });
      return;
    }
    await this.record(itemId, async () => {
      if (moves) await this.engine.markDataMoved(itemId);
      return this.engine.finishPass(
        itemId,
        result.outcome,
        f,
        result.outcome === 'failed' ? { reason: result.reason ?? 'Internal', detail: result.detail } : undefined,
      );
    });
    this.log.info('pass finished', {
      item: itemId,
      outcome: result.outcome,
      reason: result.reason,
      copied: f.messagesCopied,
      ms: f.durationMs,
    });
  }

  /**
   * Records the outcome of a pass. While the database cannot be written (a full disk) the
   * write is tried again, with a growing pause up to `recordRetryMaxMs`, until it goes
   * through; the item stays this runner's meanwhile (no other process or orphan sweep takes
   * it). On shutdown it is tried once more and left: the item is still Running, and the
   * next start resumes it from its checkpoint.
   */
  private async record<T>(itemId: string, write: () => Promise<T>): Promise<T | undefined> {
    let wait = 250;
    let warned = false;
    for (;;) {
      try {
        const r = await write();
        if (warned)
          this.log.info('the outcome of the pass is recorded: the database takes writes again', { item: itemId });
        return r;
      } catch (e) {
        const fault = dbFaultOf(e);
        if (!fault) throw e;
        if (this.stopped) {
          this.log.warn('shutting down while the database cannot be written: the item resumes on the next start', {
            item: itemId,
            fault,
          });
          return undefined;
        }
        if (!warned)
          this.log.error('cannot record the outcome of a pass: the database cannot be written; retrying until it can', {
            item: itemId,
            fault,
          });
        warned = true;
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, wait);
          function done() {
            clearTimeout(t);
            halt.removeEventListener('abort', done);
            resolve();
          }
          const halt = this.halt.signal;
          halt.addEventListener('abort', done, { once: true });
        });
        wait = Math.min(this.o.recordRetryMaxMs, wait * 2);
      }
    }
  }
}

/** The first database fault a pass met (a full disk): it ends the pass, and the item fails with it. */
class FirstFault {
  first: { fault: DbFault; error: unknown } | undefined;
  /** Notes `e` when it is a database fault (the first one is kept); returns the fault, if it is one. */
  note = (e: unknown): DbFault | undefined => {
    const f = dbFaultOf(e);
    if (f && !this.first) this.first = { fault: f, error: e };
    return f;
  };
}

/**
 * The checkpoint store as a pass sees it: a database fault (a full disk) is noted and turned
 * into a `CopyError`, so the pass ends at once instead of retrying its IMAP connections
 * against a database that cannot take the checkpoint.
 */
function guardStore(store: CheckpointStore, noteFault: (e: unknown) => DbFault | undefined): CheckpointStore {
  return new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          return await value.apply(target, args);
        } catch (e) {
          const fault = noteFault(e);
          if (fault)
            throw new CopyError(
              `DATABASE_${fault.toUpperCase()}`,
              'Internal',
              fault === 'full' ? 'the database is full' : 'the database cannot be written',
              { cause: e },
            );
          throw e;
        }
      };
    },
  });
}

function figures(
  s: CopyCounters & {
    skipped?: PassStats['skipped'];
    flagsUpdated?: number;
    messagesLeftOut?: number;
    verification?: PassStats['verification'];
  },
  durationMs: number,
  pass: PassWindowView,
): PassFigures {
  const { messagesFound, bytesFound, messagesCopied, bytesCopied, messagesPresent, messagesSkipped } = s;
  const skippedReasons: Record<string, number> = {};
  for (const k of s.skipped ?? []) skippedReasons[k.reason] = (skippedReasons[k.reason] ?? 0) + 1;
  const v = s.verification;
  return {
    messagesFound,
    bytesFound,
    messagesCopied,
    bytesCopied,
    messagesPresent,
    messagesSkipped,
    durationMs,
    skippedReasons,
    ...(s.flagsUpdated ? { flagsUpdated: s.flagsUpdated } : {}),
    pass,
    ...(s.messagesLeftOut ? { leftOut: s.messagesLeftOut } : {}),
    // Kept with the pass (history, the item's last verification, the thread post); a long list of short folders is cut.
    ...(v?.foldersChecked ? { verification: { ...v, foldersShort: v.foldersShort.slice(0, 10) } } : {}),
  };
}

function emptyFigures(durationMs: number): PassFigures {
  return { ...ZERO_COUNTERS, durationMs };
}
