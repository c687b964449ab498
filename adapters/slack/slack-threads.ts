import type { webApi } from '@slack/bolt';
import type { Message } from '../../cards/model.ts';
import { renderBlockKit, type KitMessage } from '../../cards/render-block-kit.ts';
import { liveAnchorMessage, type AnchorSummaryView } from '../../cards/anchor-slack.ts';
import type { ThreadPost, ThreadPoster } from '../../bot/notifier.ts';
import type { Logger } from '../../bot/log.ts';
import { KeyedQueue } from '../../bot/keyed-queue.ts';
import { packThreadRef, unpackThreadRef, type SlackThread } from './thread-ref.ts';

type WebClient = webApi.WebClient;

/** Tuning of the thread poster. */
export interface SlackThreadsOptions {
  /** At most one progress edit per anchor in this interval (Slack: chat.update is Tier 3, ~50/min per workspace). */
  progressIntervalMs: number;
  /** At most one edit of the anchor's live summary per anchor in this interval. */
  summaryIntervalMs: number;
  /** Counts per status of the items of a thread (the live summary); null when unknown. */
  summarize?: (threadRef: string) => Promise<AnchorSummaryView | null>;
}

/** The defaults: a progress edit every 5 s at most, the summary every 3 s at most. */
export const DEFAULT_THREADS_OPTIONS: SlackThreadsOptions = { progressIntervalMs: 5000, summaryIntervalMs: 3000 };

/** How many anchors, progress messages and per-thread states are kept in memory (oldest forgotten first). */
const MEMORY_CAP = 5000;

/**
 * Sets a map entry, forgetting the oldest entries beyond `MEMORY_CAP` (a long-running server must not grow forever).
 */
function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  for (const k of map.keys()) {
    if (map.size <= MEMORY_CAP) break;
    map.delete(k);
  }
}

/**
 * Slack errors that a text-only retry can fix (the blocks were refused, not the post);
 * `msg_blocks_too_long`: the blocks together pass Slack's total (about 12–13K characters).
 */
const BLOCK_ERRORS = new Set([
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'msg_blocks_too_long',
  'too_many_attachments',
]);

/** The Slack error code of a Web API failure (`not_in_channel`, `ratelimited`, …), if any. */
export function slackErrorCode(e: unknown): string | undefined {
  const d = (e as { data?: { error?: unknown } })?.data;
  return typeof d?.error === 'string' ? d.error : undefined;
}

interface Gate {
  last: number;
  timer?: NodeJS.Timeout;
  /** The latest progress per replace key, waiting for the gate. */
  pending: Map<string, ThreadPost>;
}

interface SummaryState {
  last: number;
  timer?: NodeJS.Timeout;
}

/**
 * Slack threads: anchors, posts in them, edits of progress messages and of the anchor's
 * live summary.
 *
 * - Posts into one thread go out one after the other, in the order they were made.
 * - A progress post (with a `replaceKey`) edits one message per key (`chat.update`); per
 *   anchor at most one progress edit per `progressIntervalMs`, the latest figures win, and
 *   a status post about the same item makes its pending progress moot.
 * - After each status post the anchor is edited to show counts per status (throttled).
 * - Rate limits: the WebClient waits `Retry-After` on 429 and retries a few times; when
 *   blocks are refused the post is retried as text. A post that still fails throws: the
 *   notifier's outbox retries it with back-off and, when it gives up, records it in the
 *   item's history.
 * - A channel reference (`slack:CHANNEL`, digests) posts at the top level of the channel.
 */
export class SlackThreads {
  private anchors = new Map<string, Message>();
  private queue = new KeyedQueue();
  private progressMessages = new Map<string, { channel: string; ts: string }>();
  private gates = new Map<string, Gate>();
  private summaries = new Map<string, SummaryState>();
  private closed = false;

  constructor(
    private client: WebClient,
    private log: Logger,
    private opts: SlackThreadsOptions = DEFAULT_THREADS_OPTIONS,
  ) {}

  /**
   * Posts the anchor of a new thread in a channel and returns its thread reference.
   * `byUser` is credited in a context line under the message.
   */
  async openAnchor(team: string, channel: string, summary: Message, byUser?: string): Promise<string> {
    const kit = renderBlockKit(summary);
    if (byUser && kit.blocks.length < 50)
      kit.blocks.push({
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `Asked by <@${byUser}>. Status changes follow in this thread.` }],
      });
    const r = await this.send('postMessage', { channel, ...kit });
    const ref = packThreadRef({ team, channel: r.channel ?? channel, ts: r.ts! });
    remember(this.anchors, ref, summary);
    return ref;
  }

  /** Posts a message in an existing thread (a command run from inside a thread). */
  async postInThread(ref: string, m: Message): Promise<void> {
    const t = mustUnpack(ref);
    await this.enqueue(ref, () =>
      this.send('postMessage', { channel: t.channel, thread_ts: t.ts, ...renderBlockKit(m) }),
    );
  }

  /** The notifier's poster for `slack:` thread references. */
  readonly poster: ThreadPoster = async (post) => {
    const t = mustUnpack(post.threadRef);
    if (post.replaceKey) return this.progress(post);
    if (post.itemId) this.dropPendingProgress(post.threadRef, post.itemId);
    // A channel reference (digests) posts at the top level; a thread reference in the thread.
    await this.enqueue(post.threadRef, () =>
      this.send('postMessage', {
        channel: t.channel,
        ...(t.ts ? { thread_ts: t.ts } : {}),
        ...renderBlockKit(post.message),
      }),
    );
    if (t.ts) this.scheduleSummary(post.threadRef);
  };

  /** Sends everything pending now (progress and summaries) and waits for every post; then stops timers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [ref, g] of this.gates) {
      if (g.timer) clearTimeout(g.timer);
      g.timer = undefined;
      while (g.pending.size) this.flushOne(ref, g);
    }
    for (const [ref, s] of this.summaries) {
      if (s.timer) {
        clearTimeout(s.timer);
        s.timer = undefined;
        void this.refreshSummary(ref).catch(() => {});
      }
    }
    await this.queue.idle();
  }

  // ------------------------------------------------------------------ progress

  /**
   * A progress post: sent at once when the anchor's gate is open (a failure goes back to the
   * notifier, which retries); otherwise kept as the latest of its key and sent when the gate
   * opens. A held progress is accepted at once so it never holds up the thread's other posts.
   */
  private async progress(post: ThreadPost): Promise<void> {
    const ref = post.threadRef;
    let g = this.gates.get(ref);
    if (!g) remember(this.gates, ref, (g = { last: 0, pending: new Map() }));
    const key = post.replaceKey!;
    if (!g.timer && !g.pending.size && Date.now() - g.last >= this.opts.progressIntervalMs) {
      g.last = Date.now();
      await this.enqueue(ref, () => this.sendProgress(ref, key, post.message));
      return;
    }
    g.pending.set(key, post);
    this.scheduleProgress(ref, g);
  }

  private scheduleProgress(ref: string, g: Gate): void {
    if (g.timer || !g.pending.size) return;
    const wait = this.closed ? 0 : Math.max(0, g.last + this.opts.progressIntervalMs - Date.now());
    g.timer = setTimeout(() => {
      g.timer = undefined;
      this.flushOne(ref, g);
      this.scheduleProgress(ref, g);
    }, wait);
  }

  /** Sends the progress that waited longest (one edit). */
  private flushOne(ref: string, g: Gate): void {
    const first = g.pending.entries().next();
    if (first.done) return;
    const [key, post] = first.value;
    g.pending.delete(key);
    g.last = Date.now();
    this.enqueue(ref, () => this.sendProgress(ref, key, post.message)).catch((e) =>
      // A later progress or the item's next status post supersedes it.
      this.log.warn('slack: progress edit failed', {
        code: slackErrorCode(e),
        error: e instanceof Error ? e.message : String(e),
      }),
    );
  }

  /** Edits the key's progress message, or posts it in the thread the first time. */
  private async sendProgress(ref: string, key: string, m: Message): Promise<void> {
    const t = mustUnpack(ref);
    const kit = renderBlockKit(m);
    const existing = this.progressMessages.get(key);
    if (existing) {
      try {
        await this.send('update', { channel: existing.channel, ts: existing.ts, ...kit });
        return;
      } catch (e) {
        // The message was deleted: post a new one below.
        if (slackErrorCode(e) !== 'message_not_found') throw e;
      }
    }
    const r = await this.send('postMessage', { channel: t.channel, ...(t.ts ? { thread_ts: t.ts } : {}), ...kit });
    remember(this.progressMessages, key, { channel: r.channel ?? t.channel, ts: r.ts! });
  }

  private dropPendingProgress(ref: string, itemId: string): void {
    const g = this.gates.get(ref);
    if (!g) return;
    for (const [key, p] of g.pending) if (p.itemId === itemId) g.pending.delete(key);
  }

  // ------------------------------------------------------------------ live summary

  private scheduleSummary(ref: string): void {
    if (!this.opts.summarize) return;
    let s = this.summaries.get(ref);
    if (!s) remember(this.summaries, ref, (s = { last: 0 }));
    if (s.timer) return; // the pending refresh will read the latest counts
    const state = s;
    const wait = this.closed ? 0 : Math.max(0, state.last + this.opts.summaryIntervalMs - Date.now());
    state.timer = setTimeout(() => {
      state.timer = undefined;
      state.last = Date.now();
      this.refreshSummary(ref).catch((e) =>
        this.log.warn('slack: anchor summary not updated', {
          error: e instanceof Error ? e.message : String(e),
          code: slackErrorCode(e),
        }),
      );
    }, wait);
  }

  private async refreshSummary(ref: string): Promise<void> {
    const view = await this.opts.summarize!(ref);
    if (!view) return;
    const t = mustUnpack(ref);
    const kit = renderBlockKit(liveAnchorMessage(this.anchors.get(ref), view));
    await this.enqueue(ref, () => this.send('update', { channel: t.channel, ts: t.ts, ...kit }));
  }

  // ------------------------------------------------------------------ sending

  /** Runs `fn` after everything queued for the same thread. */
  private enqueue<T>(ref: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(ref, fn);
  }

  /** chat.postMessage / chat.update with blocks; retried once as text when Slack refuses the blocks. */
  private async send(
    method: 'postMessage' | 'update',
    args: { channel: string; ts?: string; thread_ts?: string } & KitMessage,
  ): Promise<{ ts?: string; channel?: string }> {
    const call = (a: Record<string, unknown>) =>
      method === 'postMessage'
        ? this.client.chat.postMessage({
            ...a,
            unfurl_links: false,
            unfurl_media: false,
          } as unknown as webApi.ChatPostMessageArguments)
        : this.client.chat.update(a as unknown as webApi.ChatUpdateArguments);
    try {
      return await call(args as unknown as Record<string, unknown>);
    } catch (e) {
      const code = slackErrorCode(e);
      if (!code || !BLOCK_ERRORS.has(code)) throw e;
      this.log.warn('slack: blocks refused, sending text only', { code });
      return await call({ ...args, blocks: [] } as unknown as Record<string, unknown>);
    }
  }
}

/** A thread (`slack:TEAM/CHANNEL/TS`) or a channel (`slack:CHANNEL`, ts empty: top-level posts). */
function mustUnpack(ref: string): SlackThread {
  const t = unpackThreadRef(ref);
  if (t) return t;
  const channel = /^slack:([A-Z0-9]+)$/.exec(ref)?.[1];
  if (channel) return { team: '', channel, ts: '' };
  throw new Error(`not a Slack thread or channel reference: ${ref.split('/')[0]}`);
}
