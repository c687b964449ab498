import { storedSides } from '../../engine/domain/types.ts';
import type { Engine, Item, Project } from '../../engine/engine.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { readProjectOptions } from '../../engine/domain/project-options.ts';
import { SYSTEM_ACTOR, sidesFrom, sidesOf, type Side } from '../../engine/domain/types.ts';
import { randomUUID } from 'node:crypto';
import { credentialsRequestedPost, credentialsRequestedSummaryPost } from '../../cards/item-posts.ts';
import { ConcurrencyLimit } from './limit.ts';
import { RequestTally, type Reached } from './request-tally.ts';
import type { Notifier } from '../notifier.ts';
import type { Message } from '../../cards/model.ts';
import type { Logger } from '../log.ts';
import type { OrganisationView } from '../../cards/organisation.ts';
import { organisationOf } from '../organisation.ts';

/** One recipient's outcome on one channel (defined with the tally that sums them up). */
export type { Reached } from './request-tally.ts';

/** Everything a sender needs to ask one person for credentials. */
export interface CredentialRequest {
  itemId: string;
  projectName: string;
  sourceAddress: string;
  destinationAddress: string;
  /** Whom to ask: an end user's mail address. */
  recipient: string;
  /** Which credentials the form asks for. */
  sides: Side[];
  /** The secure form link (contains the token: never log it). */
  url: string;
  expiresAt: Date;
  /** Who asked (the admin's chat name); absent when no person's name is known (console, reminders). */
  requestedBy?: string;
  /** The organisation behind the request (name, support contact, time zone of the times shown). */
  organisation: OrganisationView;
  /** Whether this replaces an earlier request. */
  resend: boolean;
  /** A reminder of an unanswered request. */
  reminder?: boolean;
  /** The item's thread (chat senders use its surface to pick the workspace). */
  threadRef: string | null;
  /** The choice id of the DM's answer buttons for the chat user it reaches (absent: no buttons). */
  choiceFor?: (surface: string, userId: string) => string;
  /** Whether the answers offer "Tonight" (the project has a copy window). */
  tonight?: boolean;
}

/**
 * The result of one attempt to reach a person. A failure says whether trying again later
 * may work (`transient`: an SMTP 421 or other 4xx, a connection refused, reset or timed
 * out) and whether it is the server's or the setup's rather than this recipient's
 * (`serverWide`: the next requests would fail the same way).
 */
export type SendResult =
  | { ok: true; via: string }
  | { ok: false; via: string; why: string; transient?: boolean; serverWide?: boolean };

/** A way to reach an end user: email, or a chat DM on a surface. Pluggable. */
export interface Sender {
  /** `email`, or `chat` for DM senders. */
  kind: 'email' | 'chat';
  /** For chat senders: the surface whose threads it serves (`slack`, `teams`). */
  surface?: string;
  /** How a summary names the channel (`email`, `Slack DM`); the kind by default. */
  label?: string;
  send(req: CredentialRequest): Promise<SendResult>;
  /** Sends a message that is not a credential request (the completion notice); absent: this channel cannot. */
  sendNotice?(n: UserNotice): Promise<SendResult>;
}

/** A message to an end user that carries no link (the completion notice). */
export interface UserNotice {
  itemId: string;
  /** The person's mail address. */
  recipient: string;
  /** The item's other address, a second way to find the person in chat. */
  otherAddress: string;
  /** The email subject. */
  subject: string;
  message: Message;
  /** The item's thread (chat senders use its surface to pick the workspace). */
  threadRef: string | null;
}

/** Tuning of the outreach. */
export interface OutreachOptions {
  publicUrl: string;
  linkTtlHours: number;
  /** The install's organisation name and support contact (a project's own win). */
  organisation?: { name?: string; support?: string };
  /** Credential requests in flight at once, whatever the channel (`MAILFERRY_OUTREACH_CONCURRENCY`). Default 4. */
  concurrency?: number;
  /** Sends of one request to one channel when the failure is transient, the first included. Default 4. */
  attempts?: number;
  /** Wait before the first retry; four times longer before each next one (2 s, 8 s, 32 s). */
  retryMs?: number;
  /**
   * After a channel failed a request through every attempt for a server-wide reason, it is not tried for this long:
   * requests meanwhile fail at once, each with the reason. Default 60 s.
   */
  pauseMs?: number;
  /** Lines a summary post lists before "and N more". */
  listLimit?: number;
}

/** What one batch of requests (one bulk command) has done so far, per thread. */
interface BatchState {
  kind: 'start' | 'resend' | 'reminder' | 'resumed';
  pending: number;
  ended: boolean;
  threads: Map<string, RequestTally>;
}

/** A channel that failed for a server-wide reason, not tried until `until`. */
interface Pause {
  until: number;
  why: string;
}

/** Default number of requests in flight: see `Outreach`. */
export const OUTREACH_CONCURRENCY = 4;

/**
 * Sends credential requests when the engine says credentials are needed: one link per
 * recipient (source address, destination address, or both), through chat and/or email as
 * the item says, email always the fallback when chat cannot reach the person. The history
 * keeps every outcome.
 *
 * At scale: requests wait in a queue in memory and at most `concurrency` are in flight (4
 * by default: a bulk start of 5,000 mailboxes opening 5,000 SMTP connections at once had
 * them all time out; a mail relay commonly allows a handful of connections per client, and
 * chat APIs rate-limit bursts). Our own bound rather than only nodemailer's pool because it
 * bounds every channel (chat DMs too) and lets a request be retried as a whole; the email
 * sender's pool has the same number of connections and reuses them. A transient failure is
 * retried with back-off (`attempts`, `retryMs`), a permanent one (recipient refused, login
 * refused) is not; a channel that failed server-wide through every attempt is paused for
 * `pauseMs`, so a mail server that is down ends a batch of thousands in seconds, each item
 * with a "not delivered" line in its history, instead of hours of retries.
 *
 * Requests of a bulk command (events with a `batch`) are reported in the thread as one
 * summary per thread when the batch ends; a single `start ADDRESS`, `resend` keeps its own
 * post. The queue is not durable: requests still queued when MailFerry stops are not sent,
 * their items stay WaitingForUser with no request in their history, and the scheduler sends
 * them after the next start (see `bot/scheduler/reminders.ts`).
 */
export class Outreach {
  private senders: Sender[] = [];
  private readonly limit: ConcurrencyLimit;
  private readonly o: Required<Omit<OutreachOptions, 'publicUrl' | 'linkTtlHours' | 'organisation' | 'concurrency'>>;
  private batches = new Map<string, BatchState>();
  private paused = new Map<Sender, Pause>();
  private sleepers = new Set<() => void>();
  private inFlight = new Set<Promise<void>>();
  private pendingItems = new Map<string, number>();
  private closed = false;

  /** Binds a DM's answer buttons to the chat user it reaches (set when answers are taken). */
  bindChoice?: (itemId: string, surface: string, userId: string) => string;
  constructor(
    private engine: Engine,
    private notifier: Notifier,
    private log: Logger,
    private opts: OutreachOptions,
  ) {
    this.limit = new ConcurrencyLimit(opts.concurrency ?? OUTREACH_CONCURRENCY);
    this.o = {
      attempts: opts.attempts ?? 4,
      retryMs: opts.retryMs ?? 2000,
      pauseMs: opts.pauseMs ?? 60_000,
      listLimit: opts.listLimit ?? 15,
    };
  }

  /** Adds a sender (email, or a chat surface's DM sender). */
  addSender(s: Sender): void {
    this.senders.push(s);
  }

  /**
   * Handles engine events (subscribe with `bus.on`). Synchronous up to the first await, so a batch is counted in event
   * order.
   */
  async onEvent(e: EngineEvent): Promise<void> {
    if (e.type === 'batch.end') return this.endBatch(e.batch);
    if (e.type !== 'item.credentials-needed') return;
    // A chat platform gives a person's name; a console login ("root"), the system or the form means nothing to a user.
    const nameless = ['console', 'system', 'form'].includes(e.actor.surface);
    await this.request(e.item.id, e.sides, e.resend, nameless ? undefined : (e.actor.name ?? e.actor.id), {
      batch: e.batch,
      threadRef: e.item.threadRef,
    });
  }

  /**
   * Opens a batch: requests made with its id are reported as one summary per thread once
   * `endBatch` was called and every one of them settled. Returns the id.
   */
  openBatch(kind: BatchState['kind'], id: string = randomUUID()): string {
    if (!this.batches.has(id)) this.batches.set(id, { kind, pending: 0, ended: false, threads: new Map() });
    return id;
  }

  /** No more requests join the batch; its summaries are posted once its requests settled. */
  async endBatch(id: string): Promise<void> {
    const b = this.batches.get(id);
    if (!b) return;
    b.ended = true;
    if (!b.pending) await this.flush(id, b);
  }

  /**
   * Asks the end user(s) of an item for the given sides, through the queue; resolves with
   * what happened per recipient once sent (an empty list when the item no longer waits, or
   * when MailFerry stopped before its turn). With `batch`, the thread hears it in the
   * batch's summary, otherwise in a post of its own.
   */
  async request(
    itemId: string,
    sides: Side[],
    resend: boolean,
    requestedBy: string | undefined,
    opts: { reminder?: boolean; batch?: string; threadRef?: string | null } = {},
  ): Promise<Reached[]> {
    const b = opts.batch
      ? this.joinBatch(opts.batch, opts.reminder ? 'reminder' : resend ? 'resend' : 'start')
      : undefined;
    if (b) b.pending++;
    this.pendingItems.set(itemId, (this.pendingItems.get(itemId) ?? 0) + 1);
    const task = this.limit.run(async () => {
      // Stopped before its turn: not sent; the item keeps waiting and the request goes out after the next start.
      if (this.closed) {
        if (b && opts.threadRef) this.tally(b, opts.threadRef).addNotSent();
        return [];
      }
      return this.send(itemId, sides, resend, requestedBy, opts.reminder ?? false, b);
    });
    try {
      return await this.track(task);
    } finally {
      const n = (this.pendingItems.get(itemId) ?? 1) - 1;
      if (n > 0) this.pendingItems.set(itemId, n);
      else this.pendingItems.delete(itemId);
      if (b && --b.pending === 0 && b.ended) await this.flush(opts.batch!, b);
    }
  }

  /** Whether MailFerry is stopping: nothing more is sent (`close`). */
  get stopped(): boolean {
    return this.closed;
  }

  /** Whether a request for the item is queued or being sent in this process (the scheduler does not add another). */
  isPending(itemId: string): boolean {
    return this.pendingItems.has(itemId);
  }

  /** Resolves once no request is queued or being sent (shutdown: before the email transport closes). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /**
   * Stops sending: requests still queued end without being sent (their items keep waiting,
   * with no request in their history, and go out after the next start), retries waiting
   * out a back-off give up. Requests in flight finish.
   */
  close(): void {
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
  }

  private joinBatch(id: string, kind: BatchState['kind']): BatchState {
    this.openBatch(kind, id);
    return this.batches.get(id)!;
  }

  private async send(
    itemId: string,
    sides: Side[],
    resend: boolean,
    requestedBy: string | undefined,
    reminder: boolean,
    batch?: BatchState,
  ): Promise<Reached[]> {
    const item = await this.engine.itemById(itemId);
    if (item?.status !== 'WaitingForUser') return [];
    const ttl = readProjectOptions(item.project.options).options.linkTtlHours ?? this.opts.linkTtlHours;
    const organisation = organisationOf(item.project, this.opts.organisation ?? {});
    const reached: Reached[] = [];
    let first = true;
    let stopped = false;
    const bind = this.bindChoice;
    for (const [recipient, mine] of planRecipients(item, sides)) {
      const { token, expiresAt } = await this.engine.links.create({
        itemId,
        sides: sidesFrom(mine) ?? 'both',
        recipient,
        ttlHours: ttl,
        keepOthers: !first,
      });
      first = false;
      const req: CredentialRequest = {
        itemId,
        projectName: item.project.name,
        sourceAddress: item.sourceAddress,
        destinationAddress: item.destinationAddress,
        recipient,
        sides: mine,
        url: `${this.opts.publicUrl}/c/${token}`,
        expiresAt,
        requestedBy,
        organisation,
        resend,
        reminder,
        threadRef: item.threadRef,
        ...(bind
          ? {
              choiceFor: (surface: string, userId: string) => bind(itemId, surface, userId),
              tonight: !!readProjectOptions(item.project.options).options.window,
            }
          : {}),
      };
      const out = await this.deliver(req.recipient, req.threadRef, item.notify, (s) => s.send(req));
      reached.push(...out.reached);
      if (out.stopped) {
        stopped = true;
        break;
      }
    }
    await this.recordReached(item, reached, reminder);
    await this.reportReached(item, sides, reached, { stopped, resend, reminder }, batch);
    return reached;
  }

  /** Notes each recipient's outcome in the item's history, and logs it. */
  private async recordReached(item: Item & { project: Project }, reached: Reached[], reminder: boolean): Promise<void> {
    const itemId = item.id;
    for (const r of reached) {
      await this.engine.note(item, SYSTEM_ACTOR, r.ok ? 'request.sent' : 'request.failed', {
        recipient: r.recipient,
        via: r.via,
        ...(r.why ? { why: r.why } : {}),
        // Sends tried, when not one: more after a transient failure, 0 when the channel was paused.
        ...(r.attempts !== undefined && r.attempts !== 1 ? { attempts: r.attempts } : {}),
        reminder,
      });
      this.log.info(r.ok ? 'credential request sent' : 'credential request not delivered', {
        item: itemId,
        via: r.channel ?? r.via,
        why: r.why,
        attempts: r.attempts,
      });
    }
  }

  /**
   * Tells the item's thread whom its request reached: in the batch's summary when it is part of
   * one (`stopped`: some recipients were not sent to), else in a post of its own.
   */
  private async reportReached(
    item: Item & { project: Project },
    sides: Side[],
    reached: Reached[],
    how: { stopped: boolean; resend: boolean; reminder: boolean },
    batch: BatchState | undefined,
  ): Promise<void> {
    const { stopped, resend, reminder } = how;
    const itemId = item.id;
    if (item.threadRef) {
      if (batch) {
        const tally = this.tally(batch, item.threadRef);
        if (reached.length) tally.add(reached);
        if (stopped) tally.addNotSent();
      } else if (reached.length) {
        await this.notifier.post({
          threadRef: item.threadRef,
          address: item.sourceAddress,
          itemId,
          message: credentialsRequestedPost(item.sourceAddress, sides, reached, resend || reminder),
        });
      }
    }
  }

  private tally(batch: BatchState, threadRef: string): RequestTally {
    let t = batch.threads.get(threadRef);
    if (!t) batch.threads.set(threadRef, (t = new RequestTally(this.o.listLimit)));
    return t;
  }

  /** Posts a finished batch's summary into each of its threads. */
  private async flush(id: string, b: BatchState): Promise<void> {
    this.batches.delete(id);
    for (const [threadRef, tally] of b.threads) {
      if (tally.empty) continue;
      await this.notifier.post({ threadRef, message: credentialsRequestedSummaryPost(tally.view(b.kind)) });
    }
  }

  /**
   * Sends a notice (no link in it) to a person through the same bounded queue and channels
   * as a request: chat and/or email as the item says, email the fallback when chat cannot
   * reach the person, transient failures retried, a paused channel not tried. An empty list
   * when MailFerry stopped before it went out.
   */
  async notice(n: UserNotice, notify: string): Promise<Reached[]> {
    const task = this.limit.run(async () => {
      if (this.closed) return [];
      const send = (s: Sender) =>
        s.sendNotice
          ? s.sendNotice(n)
          : Promise.resolve<SendResult>({
              ok: false,
              via: s.label ?? s.kind,
              why: 'this channel sends credential requests only',
            });
      return (await this.deliver(n.recipient, n.threadRef, notify, send)).reached;
    });
    return this.track(task);
  }

  /** Awaits a queued send, counted in flight until it settles (`idle` waits for it). */
  private async track<T>(task: Promise<T>): Promise<T> {
    const tracked = task.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(tracked);
    try {
      return await task;
    } finally {
      this.inFlight.delete(tracked);
    }
  }

  /**
   * Chat first when the item says so, email as the fallback; `stopped` when MailFerry stopped during a retry's wait.
   */
  private async deliver(
    recipient: string,
    threadRef: string | null,
    notify: string,
    send: (s: Sender) => Promise<SendResult>,
  ): Promise<{ reached: Reached[]; stopped: boolean }> {
    const out: Reached[] = [];
    const surface = threadRef?.split(':', 1)[0];
    let chatOk = false;
    if (notify === 'chat' || notify === 'both') {
      const chat =
        this.senders.find((s) => s.kind === 'chat' && s.surface === surface) ??
        this.senders.find((s) => s.kind === 'chat');
      if (chat) {
        const r = await this.sendWithRetry(chat, recipient, send);
        if (!r) return { reached: out, stopped: true };
        chatOk = r.ok;
        out.push(r);
      } else
        out.push({
          recipient,
          via: 'chat',
          channel: 'chat',
          ok: false,
          why: 'no chat surface can send direct messages here',
        });
    }
    // Email is always the fallback when chat did not reach the person.
    if (notify === 'email' || notify === 'both' || !chatOk) {
      const email = this.senders.find((s) => s.kind === 'email');
      if (email) {
        const r = await this.sendWithRetry(email, recipient, send);
        if (!r) return { reached: out, stopped: true };
        out.push(r);
      } else
        out.push({
          recipient,
          via: 'email',
          channel: 'email',
          ok: false,
          why: 'email is not configured (set SMTP_URL and MAIL_FROM)',
        });
    }
    return { reached: out, stopped: false };
  }

  /**
   * One request to one channel: retried with back-off while the failure is transient; a
   * channel paused after a server-wide failure is not tried. Null when MailFerry stopped
   * during a wait (nothing is recorded: the request goes out after the next start).
   */
  private async sendWithRetry(
    s: Sender,
    recipient: string,
    send: (s: Sender) => Promise<SendResult>,
  ): Promise<Reached | null> {
    const channel = s.label ?? s.kind;
    const base = { recipient, channel };
    const pause = this.paused.get(s);
    if (pause && pause.until > Date.now())
      return {
        ...base,
        via: channel,
        ok: false,
        attempts: 0,
        why: `${pause.why} (not tried: the requests just before failed the same way)`,
      };
    let r: SendResult = { ok: false, via: channel, why: 'not tried' };
    let attempt = 0;
    while (attempt < this.o.attempts) {
      attempt++;
      r = await safeSend(s, send);
      if (r.ok) {
        this.paused.delete(s);
        return { ...base, via: r.via, ok: true, attempts: attempt };
      }
      if (!r.transient || attempt >= this.o.attempts) break;
      // Stopped while this send was under way: no wait for a retry that will not be made (close woke the sleepers
      // it found, not this one), so shutting down is not held up to 32 s.
      if (this.closed) return null;
      await this.sleep(this.o.retryMs * 4 ** (attempt - 1));
      if (this.closed) return null;
    }
    if (!r.ok && r.serverWide) {
      this.paused.set(s, { until: Date.now() + this.o.pauseMs, why: r.why });
      this.log.warn('credential requests paused on a channel after a server-wide failure', {
        channel,
        pauseMs: this.o.pauseMs,
        why: r.why,
      });
    }
    return { ...base, via: r.via, ok: false, why: r.ok ? undefined : r.why, attempts: attempt };
  }

  /** Waits `ms`, or less when the outreach closes. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}

/**
 * Who is asked for what: each missing side goes to the owner of that side's mailbox when
 * the item asks that address, otherwise to the (first) address it asks. So with `--ask
 * both` the source address is asked for the source credentials and the destination
 * address for the destination ones; with one address asked, that person gets every
 * missing side. The same address on both sides gets one request.
 */
export function planRecipients(
  item: { ask: string; sourceAddress: string; destinationAddress: string },
  missing: Side[],
): Map<string, Side[]> {
  const asked = sidesOf(storedSides(item.ask));
  // Every Sides value names at least one side.
  const firstAsked = asked[0] ?? 'source';
  const addressOf = (s: Side) => (s === 'source' ? item.sourceAddress : item.destinationAddress);
  const plan = new Map<string, Side[]>();
  for (const side of missing) {
    const who = addressOf(asked.includes(side) ? side : firstAsked);
    plan.set(who, [...(plan.get(who) ?? []), side]);
  }
  return plan;
}

async function safeSend(s: Sender, send: (s: Sender) => Promise<SendResult>): Promise<SendResult> {
  try {
    return await send(s);
  } catch (e) {
    return {
      ok: false,
      via: s.label ?? (s.kind === 'chat' ? `${s.surface ?? 'chat'} DM` : 'email'),
      why: e instanceof Error ? e.message : String(e),
    };
  }
}
