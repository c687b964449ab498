import { randomBytes } from 'node:crypto';
import type { EventBus, EngineEvent, ItemStatusEvent, PassFigures, StatusChange } from '../engine/events.ts';
import { LEASE_OWNER, leaseHolderGone, type Engine } from '../engine/engine.ts';
import type { Message } from '../cards/model.ts';
import {
  bulkStatusPost,
  bulkStatusView,
  mergeBulkStatus,
  credentialsReceivedPost,
  credentialsRefusedPost,
  progressPost,
  statusPost,
  type FiguresView,
} from '../cards/item-posts.ts';
import { threadUpdatesPost } from '../cards/digest.ts';
import { reasonText } from './commands/shared.ts';
import { KeyedQueue } from './keyed-queue.ts';
import { SYSTEM_ACTOR } from '../engine/domain/types.ts';
import { botTx, type BotDb, type BotTx } from './store/bot-db.ts';
import type { RawTx } from '../engine/store/dialect.ts';
import {
  claimThreadPosts,
  enqueueOutbox,
  enqueueOutboxRaw,
  finishOutbox,
  outboxStates,
  pruneOutbox,
  releaseClaimsOfGone,
  releaseOutbox,
  retryOutbox,
  threadsWithDuePosts,
  type OutboxRow,
} from './store/outbox.ts';
import type { Logger } from './log.ts';

/** Where a post goes and what it is about. */
export interface ThreadPost {
  threadRef: string;
  /** The item address the post is about (console tags posts with it). */
  address?: string;
  itemId?: string;
  message: Message;
  /** Posts with the same key replace each other where the surface can edit (progress). */
  replaceKey?: string;
}

/** A surface's way of posting into a thread (adapters register one per surface). */
export type ThreadPoster = (post: ThreadPost) => Promise<void>;

/** Tuning of delivery; the defaults suit Slack's one-message-a-second-per-channel limit. */
export interface NotifierOptions {
  /** The clock (tests move it with fake timers). */
  now?: () => Date;
  /** Posts a thread takes one by one before bursts are combined (a token bucket). */
  burst?: number;
  /** One more one-by-one post is allowed per thread every `refillMs`. */
  refillMs?: number;
  /** Delivery attempts of one post before it is given up (noted in the item's history). */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** How long a process holds the rows it is delivering before another may take them. */
  leaseMs?: number;
  /** Lines a combined post lists before "and N more". */
  listLimit?: number;
}

interface ThreadState {
  tokens: number;
  refilledAt: number;
  running: Promise<void> | null;
  again: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

function figuresView(f: PassFigures): FiguresView {
  return { ...f };
}

/** Consecutive bulk summaries of the same change become one summary (10,000 starts make one post, not twenty). */
function mergeBulk(messages: Message[]): Message[] {
  const out: Message[] = [];
  for (const m of messages) {
    const last = out[out.length - 1];
    if (m.bulk && last?.bulk && last.bulk.verb === m.bulk.verb)
      out[out.length - 1] = bulkStatusPost(mergeBulkStatus([last.bulk, m.bulk]));
    else out.push(m);
  }
  return out;
}

function surfaceOf(threadRef: string): string {
  // split always gives a first part (the whole reference when it has no colon).
  return threadRef.split(':', 1)[0] ?? threadRef;
}

/**
 * Turns engine events into thread posts, through an outbox in the database. Every post is
 * written first and delivered after, so nothing is lost across a restart; one delivery loop
 * per thread keeps the order (so an item's posts arrive in order); a thread that gets
 * posts faster than `burst` then one per `refillMs` gets them combined into one post (500
 * bulk-added items make a handful of posts, not 500); a failed delivery is retried with
 * back-off and, after `maxAttempts`, noted in the item's history. Rows are leased with a
 * conditional update, so two processes never deliver the same post, and a process only
 * delivers surfaces it has a poster for (a worker's posts are delivered by the server).
 * Thread references are opaque; only their `surface:` prefix is read.
 */
export class Notifier {
  private posters = new Map<string, ThreadPoster>();
  private writes = new KeyedQueue();
  private threads = new Map<string, ThreadState>();
  private waiters = new Map<number, { resolve: (ok: boolean) => void; timer: ReturnType<typeof setTimeout> }>();
  private warned = new Set<string>();
  private drainTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /**
   * This notifier as the holder of outbox claims: the process's lease owner (`host:pid:nonce`, which the
   * dead-process check reads) and a nonce of its own (a process may run more than one notifier).
   */
  private readonly owner = `${LEASE_OWNER}:n${randomBytes(4).toString('hex')}`;
  private readonly o: Required<Omit<NotifierOptions, 'now'>>;
  private readonly now: () => Date;

  constructor(
    private engine: Engine,
    /** The database of the outbox (chat-side storage, bot/store/outbox.ts). */
    private db: BotDb,
    private log: Logger,
    opts: NotifierOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.o = {
      burst: opts.burst ?? 5,
      refillMs: opts.refillMs ?? 1000,
      maxAttempts: opts.maxAttempts ?? 8,
      retryMs: opts.retryMs ?? 2000,
      maxRetryMs: opts.maxRetryMs ?? 300_000,
      leaseMs: opts.leaseMs ?? 60_000,
      listLimit: opts.listLimit ?? 15,
    };
  }

  /** Registers the poster of a surface (`console`, `slack`, `teams`); posts waiting for it are delivered. */
  register(surface: string, poster: ThreadPoster): void {
    this.posters.set(surface, poster);
    this.warned.delete(surface);
    void this.drain();
  }

  /** Whether this process has a poster for the surface of a thread or channel reference. */
  canPost(threadRef: string): boolean {
    return this.posters.has(surfaceOf(threadRef));
  }

  /**
   * Subscribes to the engine: the post of a status change is written into the outbox by a
   * hook the engine runs inside the transaction of the change (so a crash right after the
   * commit cannot lose it, and a change rolled back leaves no post); the event that follows
   * the commit only wakes delivery. Other events are posted from the bus as before.
   *
   * Why a hook rather than a neutral row the engine would write and the notifier format on
   * delivery: the outbox keeps one kind of row, a ready message, so delivery, combining of
   * bursts and retries stay as they are; formatting is a pure function, safe inside a
   * transaction; and the engine still only hands over an event and a transaction.
   */
  attach(bus: EventBus): () => void {
    const offHook = this.engine.onStatusChange((tx, e) => this.enqueueStatus(tx, e));
    const offBus = bus.on((e) => this.onEvent(e));
    return () => {
      offHook();
      offBus();
    };
  }

  /** Writes the post of a status change inside the transaction of the change (see `attach`). */
  private async enqueueStatus(tx: BotTx, e: ItemStatusEvent): Promise<void> {
    const message = e.item.threadRef ? this.messageFor(e) : undefined;
    if (!message || !e.item.threadRef) return;
    await this.enqueue({ threadRef: e.item.threadRef, address: e.item.sourceAddress, itemId: e.item.id, message }, tx);
  }

  /**
   * Posts a message into a thread: written to the outbox, then delivered by the thread's
   * loop. Resolves true once delivered (alone or inside a combined post), false when this
   * process cannot deliver it now (no poster for the surface, or the first attempt failed:
   * retries go on in the background).
   */
  async post(p: ThreadPost, opts: { solo?: boolean } = {}): Promise<boolean> {
    // Written one after another per thread, so a thread's posts are in the order of the calls
    // (on PostgreSQL the writes would otherwise race on the pool's connections).
    const id = await this.writes.run(p.threadRef, () => botTx(this.db, (tx) => this.enqueue(p, tx, opts)));
    return this.deliver(id, p.threadRef);
  }

  /** Writes a post into the outbox inside the caller's transaction; deliver it with `deliver` after the commit. */
  async enqueue(p: ThreadPost, tx: BotTx, opts: { solo?: boolean } = {}): Promise<number> {
    return enqueueOutbox(
      tx,
      {
        threadRef: p.threadRef,
        itemId: p.itemId,
        address: p.address,
        kind: p.message.kind,
        message: JSON.stringify(p.message),
        replaceKey: p.replaceKey,
        solo: opts.solo,
      },
      this.now(),
    );
  }

  /** Starts delivering an outbox row written by `enqueue`; resolves like `post`. */
  deliver(id: number, threadRef: string): Promise<boolean> {
    const surface = surfaceOf(threadRef);
    if (this.closed) return Promise.resolve(false);
    if (!this.posters.has(surface)) {
      if (!this.warned.has(surface))
        this.log.warn('no poster for thread surface here; the post waits in the outbox', { surface });
      this.warned.add(surface);
      return Promise.resolve(false);
    }
    const done = new Promise<boolean>((resolve) => {
      // A row another process took over (our lease ran out) is not ours to report: give up waiting.
      const timer = setTimeout(() => this.settle(id, false), this.o.leaseMs * 2);
      this.settle(id, false); // ids are unique; never leave an earlier waiter hanging
      this.waiters.set(id, { resolve, timer });
    });
    this.kick(threadRef);
    return done;
  }

  /**
   * Writes the posts of a batch of status changes (a bulk start) inside its transaction: one
   * summary post per thread, not one per item. Returns what starts their delivery after the
   * commit (the engine's `batchPosts`).
   */
  async writeBatchPosts(tx: RawTx, changes: StatusChange[]): Promise<() => void> {
    const byThread = new Map<string, StatusChange[]>();
    for (const c of changes) {
      if (!c.item.threadRef) continue;
      const list = byThread.get(c.item.threadRef);
      if (list) list.push(c);
      else byThread.set(c.item.threadRef, [c]);
    }
    const written: [number, string][] = [];
    const now = this.now();
    for (const [threadRef, list] of byThread) {
      const message = bulkStatusPost(bulkStatusView(list.map((c) => ({ address: c.item.sourceAddress, to: c.to }))));
      const id = await enqueueOutboxRaw(tx, { threadRef, kind: message.kind, message: JSON.stringify(message) }, now);
      written.push([id, threadRef]);
    }
    return () => {
      for (const [id, threadRef] of written) void this.deliver(id, threadRef);
    };
  }

  /** The post an event makes, if any. */
  messageFor(e: EngineEvent): Message | undefined {
    switch (e.type) {
      case 'item.status':
        // Waiting is announced by the outreach post (who was asked, how); Running by progress.
        if (e.to === 'WaitingForUser' || e.to === 'Running') return undefined;
        return statusPost({
          address: e.item.sourceAddress,
          from: e.from,
          to: e.to,
          actor: e.actor.name ?? e.actor.id,
          reasonText: reasonText(e.reason),
          reason: e.reason,
          detail: e.detail,
          figures: e.figures ? figuresView(e.figures) : undefined,
          ...(e.paused ? { paused: e.paused } : {}),
        });
      case 'item.progress':
        return progressPost(e.item.sourceAddress, figuresView(e.figures), e.folder, e.stage);
      case 'item.credentials-received':
        return e.actor.surface === 'form'
          ? credentialsReceivedPost(e.item.sourceAddress, e.sides, e.actor.id)
          : undefined;
      case 'item.credentials-refused':
        return credentialsRefusedPost(e.item.sourceAddress, e.side, e.attempt, e.final, e.detail);
      default:
        return undefined;
    }
  }

  /**
   * Delivers every due row of the surfaces this process can post to (rows left by a
   * restart, by a worker process, or waiting for a retry). Returns the number of threads
   * that had rows due.
   */
  async drain(): Promise<number> {
    if (this.closed || !this.posters.size) return 0;
    try {
      await this.releaseDeadClaims();
      const threads = await threadsWithDuePosts(this.db, this.now(), [...this.posters.keys()]);
      for (const t of threads) this.kick(t);
      return threads.length;
    } catch (e) {
      this.log.error('outbox drain failed', { error: e instanceof Error ? e.message : String(e) });
      return 0;
    }
  }

  /**
   * Gives back the posts claimed by a process of this host that is gone (a console or server
   * killed mid-delivery), so its threads go on now rather than when its claim runs out. A
   * holder on another host cannot be checked from here: its claims run out by themselves.
   */
  private async releaseDeadClaims(): Promise<void> {
    const released = await releaseClaimsOfGone(
      this.db,
      [...this.posters.keys()],
      // Another notifier of this process is alive, whatever its nonce.
      (owner) => owner.split(':')[1] !== String(process.pid) && leaseHolderGone(owner, LEASE_OWNER),
    );
    if (released) this.log.info('posts claimed by a process that is gone are delivered again', { posts: released });
  }

  /**
   * Drains the outbox now and again (server mode: posts written by workers, and rows a
   * restart left): every `intervalMs` while drains find posts, the wait doubling while they
   * find none, up to `idleMs` (a worker's first post after a quiet spell waits at most that
   * long; posts made in this process are delivered at once, not by the drain). About once
   * an hour, rows delivered more than a week ago are forgotten.
   */
  startDrain(intervalMs = 5000, idleMs = Math.max(intervalMs, 30_000)): void {
    if (this.drainTimer || this.closed) return;
    let wait = intervalMs;
    let prunedAt = Date.now();
    const round = async () => {
      const found = await this.drain();
      if (Date.now() - prunedAt >= 3_600_000) {
        prunedAt = Date.now();
        await pruneOutbox(this.db, new Date(this.now().getTime() - 7 * 86_400_000)).catch(() => {});
      }
      wait = found ? intervalMs : Math.min(idleMs, wait * 2);
      if (this.closed) return;
      this.drainTimer = setTimeout(() => void round(), wait);
      this.drainTimer.unref?.();
    };
    this.drainTimer = setTimeout(() => void round(), 0);
    this.drainTimer.unref?.();
  }

  /** Resolves when no thread loop is running (tests, shutdown). Timers waiting for a retry or a refill do not count. */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.threads.values()].map((t) => t.running).filter((r): r is Promise<void> => !!r);
      if (!running.length) return;
      await Promise.all(running);
    }
  }

  /**
   * Resolves when every post this process holds has gone out or failed for good: `idle`, and also the
   * waits for a rate-limit refill or a retry (the console's `--wait`, whose posts would otherwise stay
   * in the outbox when it exits). Gives up after `maxMs`; what is left stays in the outbox.
   */
  async flush(maxMs = 60_000): Promise<void> {
    const until = Date.now() + maxMs;
    for (;;) {
      await this.idle();
      const waiting = [...this.threads.values()].some((t) => t.timer);
      if (!waiting || this.closed || Date.now() >= until) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops timers and lets running deliveries finish; undelivered rows stay in the outbox for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    for (const t of this.threads.values()) {
      if (t.timer) clearTimeout(t.timer);
      t.timer = null;
    }
    await this.idle();
    for (const id of [...this.waiters.keys()]) this.settle(id, false);
  }

  private async onEvent(e: EngineEvent): Promise<void> {
    if (!('item' in e) || !e.item.threadRef) return;
    if (e.type === 'item.status' && e.recorded) {
      // Its post, if it makes one, was written with the change (by the status hook, or as a
      // bulk summary whose delivery the batch starts): deliver it now (or the server's drain will).
      if (!e.posted && this.messageFor(e)) this.kick(e.item.threadRef);
      return;
    }
    // Any other event, a status event not made by an engine transition included, is posted from here.
    const message = this.messageFor(e);
    if (!message) return;
    await this.post({
      threadRef: e.item.threadRef,
      address: e.item.sourceAddress,
      itemId: e.item.id,
      message,
      replaceKey: e.type === 'item.progress' ? `progress:${e.item.id}` : undefined,
    });
  }

  private settle(id: number, ok: boolean): void {
    const w = this.waiters.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    this.waiters.delete(id);
    w.resolve(ok);
  }

  private state(threadRef: string): ThreadState {
    let st = this.threads.get(threadRef);
    if (!st) {
      st = { tokens: this.o.burst, refilledAt: this.now().getTime(), running: null, again: false, timer: null };
      this.threads.set(threadRef, st);
    }
    return st;
  }

  /** Wakes the delivery loop of a thread (or asks the running one for another round). */
  private kick(threadRef: string): void {
    if (this.closed || !this.posters.has(surfaceOf(threadRef))) return;
    const st = this.state(threadRef);
    if (st.running) {
      st.again = true;
      return;
    }
    if (st.timer) return; // a refill or retry wake-up is already planned
    st.running = this.loop(threadRef, st).finally(() => {
      st.running = null;
      if (st.again && !st.timer) this.kick(threadRef);
    });
  }

  private wakeAt(threadRef: string, st: ThreadState, ms: number): void {
    if (st.timer || this.closed) return;
    st.timer = setTimeout(
      () => {
        st.timer = null;
        this.kick(threadRef);
      },
      Math.max(0, ms),
    );
  }

  private refill(st: ThreadState): void {
    const t = this.now().getTime();
    st.tokens = Math.min(this.o.burst, st.tokens + (t - st.refilledAt) / this.o.refillMs);
    st.refilledAt = t;
  }

  private async loop(threadRef: string, st: ThreadState): Promise<void> {
    try {
      do {
        st.again = false;
        this.refill(st);
        if (st.tokens < 1) {
          // Too fast for this thread: wait for a token; what piles up meanwhile goes out as one post.
          this.wakeAt(threadRef, st, (1 - st.tokens) * this.o.refillMs);
          return;
        }
        const rows = await claimThreadPosts(this.db, threadRef, this.owner, this.now(), this.o.leaseMs);
        if (!rows.length) {
          await this.settleFinished();
          await this.planRetry(threadRef, st);
          return;
        }
        const stop = await this.deliverRows(threadRef, st, rows);
        if (stop) return;
        st.again = true; // more may have arrived while we posted
      } while (st.again);
    } catch (e) {
      this.log.error('thread delivery failed', {
        surface: surfaceOf(threadRef),
        error: e instanceof Error ? e.message : String(e),
      });
      this.wakeAt(threadRef, st, this.o.retryMs);
    }
  }

  /**
   * Posts claimed rows in order; returns true when the loop must stop (a failure waits for its retry, or tokens ran
   * out).
   */
  private async deliverRows(threadRef: string, st: ThreadState, claimed: OutboxRow[]): Promise<boolean> {
    // A progress post replaced by a newer one of the same key is not worth posting.
    const lastOfKey = new Map<string, number>();
    for (const r of claimed) if (r.replaceKey) lastOfKey.set(r.replaceKey, r.id);
    const superseded = claimed.filter((r) => r.replaceKey && lastOfKey.get(r.replaceKey) !== r.id).map((r) => r.id);
    await finishOutbox(this.db, superseded, this.owner, 'superseded', this.now());
    for (const id of superseded) this.settle(id, true);
    const rows = claimed.filter((r) => !superseded.includes(r.id));

    // One post per row while the bucket allows it, otherwise each run of rows between solo posts becomes one post.
    const units: OutboxRow[][] = [];
    const oneByOne = rows.length <= Math.floor(st.tokens);
    for (const r of rows) {
      const last = units[units.length - 1];
      if (!oneByOne && !r.solo && last && !last[0]?.solo) last.push(r);
      else units.push([r]);
    }
    for (const [i, unit] of units.entries()) {
      this.refill(st);
      if (st.tokens < 1) {
        await releaseOutbox(
          this.db,
          units
            .slice(i)
            .flat()
            .map((r) => r.id),
          this.owner,
        );
        this.wakeAt(threadRef, st, (1 - st.tokens) * this.o.refillMs);
        return true;
      }
      st.tokens -= 1;
      const ok = await this.send(threadRef, unit);
      if (!ok) {
        await releaseOutbox(
          this.db,
          units
            .slice(i + 1)
            .flat()
            .map((r) => r.id),
          this.owner,
        );
        await this.planRetry(threadRef, st);
        return true;
      }
    }
    return false;
  }

  /** Delivers one unit (a row, or several rows as one combined post); false when it failed and will be retried. */
  private async send(threadRef: string, unit: OutboxRow[]): Promise<boolean> {
    const surface = surfaceOf(threadRef);
    const poster = this.posters.get(surface);
    const ids = unit.map((r) => r.id);
    const messages = unit.map((r) => JSON.parse(r.message) as Message);
    const merged = mergeBulk(messages);
    const [row] = unit;
    const [message] = messages;
    const [one] = merged;
    const post: ThreadPost =
      row && message && unit.length === 1
        ? {
            threadRef,
            address: row.address ?? undefined,
            itemId: row.itemId ?? undefined,
            message,
            replaceKey: row.replaceKey ?? undefined,
          }
        : one && merged.length === 1
          ? { threadRef, message: one }
          : {
              threadRef,
              message: threadUpdatesPost(
                merged.map((m) => ({ kind: m.kind, text: m.text })),
                this.o.listLimit,
              ),
            };
    try {
      if (!poster) throw new Error(`no poster for surface ${surface}`);
      await poster(post);
      await finishOutbox(this.db, ids.slice(0, 1), this.owner, 'sent', this.now());
      await finishOutbox(this.db, ids.slice(1), this.owner, 'merged', this.now());
      for (const id of ids) this.settle(id, true);
      return true;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      const attempts = Math.max(...unit.map((r) => r.attempts)) + 1;
      for (const id of ids) this.settle(id, false);
      if (attempts >= this.o.maxAttempts) {
        this.log.error('thread post given up', { surface, kind: post.message.kind, attempts, error });
        // The history says so before the row is given up: whoever sees it dead finds the note.
        await this.noteFailure(unit, messages, error);
        await finishOutbox(this.db, ids, this.owner, 'dead', this.now(), error);
        return true; // the thread goes on with its next posts
      }
      const delay = Math.min(this.o.maxRetryMs, this.o.retryMs * 2 ** (attempts - 1));
      this.log.warn('thread post failed; will retry', {
        surface,
        kind: post.message.kind,
        attempt: attempts,
        retryInMs: delay,
        error,
      });
      await retryOutbox(this.db, ids, this.owner, new Date(this.now().getTime() + delay), error);
      return false;
    }
  }

  private async noteFailure(unit: OutboxRow[], messages: Message[], error: string): Promise<void> {
    for (const [i, row] of unit.entries()) {
      const message = messages[i];
      if (!row.itemId || !message) continue;
      const item = await this.engine.itemById(row.itemId);
      if (item)
        await this.engine.note(item, SYSTEM_ACTOR, 'post.failed', {
          message: `could not post "${message.kind}" to the thread`,
          text: message.text,
          error,
        });
    }
  }

  /** Plans a wake-up for the oldest row of the thread that waits for its retry. */
  private async planRetry(threadRef: string, st: ThreadState): Promise<void> {
    const next = await this.db.outboxPost.findFirst({
      where: { threadRef, state: null },
      orderBy: { id: 'asc' },
      select: { availableAt: true, claimedUntil: true },
    });
    if (!next) return;
    const at = Math.max(next.availableAt.getTime(), next.claimedUntil?.getTime() ?? 0);
    // Never sooner than 100 ms: a row another process is about to finish is not worth a busy loop.
    this.wakeAt(threadRef, st, Math.max(100, at - this.now().getTime()));
  }

  /** Resolves waiters whose rows were finished by another process. */
  private async settleFinished(): Promise<void> {
    if (!this.waiters.size) return;
    const states = await outboxStates(this.db, [...this.waiters.keys()]);
    for (const [id, state] of states) if (state) this.settle(id, state !== 'dead');
  }
}
