import type { Block, Message } from './model.ts';
import { formatBytes, formatCount, formatDuration, formatTime, plural } from './format.ts';
import { countsLine, licensesLine, statusLabel } from './status.ts';

/** Statuses in the order a digest lists them. */
const ORDER = ['NotStarted', 'WaitingForUser', 'Queued', 'Running', 'Completed', 'Failed', 'Stopped'];

/** An item waiting for its user, as the digest shows it. */
export interface WaitingView {
  address: string;
  /** How long it has been waiting, in ms. */
  waitingMs: number;
  /**
   * How many times the user was asked (first request, resends and reminders); 0: no request sent yet (MailFerry stopped
   * with it queued).
   */
  asked: number;
  /** Every reminder of the cadence went out and the user still has not answered. */
  stalled: boolean;
}

/** An item that failed in the period. */
export interface FailedView {
  address: string;
  reasonText: string;
  detail?: string;
}

/** An item that completed in the period. */
export interface CompletedView {
  address: string;
  messages: number;
  bytes: number;
}

/** Everything a digest shows; built by bot/scheduler/build-digest.ts. */
export interface DigestView {
  projectName: string;
  now: Date;
  /** Start of the period: the previous digest, or the project's creation. */
  since: Date;
  /** Whether `since` is a previous digest (otherwise the project's start). */
  sinceDigest: boolean;
  counts: Record<string, number>;
  /** Counts at the previous digest; absent for the first one. */
  previousCounts?: Record<string, number>;
  waiting: WaitingView[];
  failed: FailedView[];
  completed: CompletedView[];
  /**
   * Data copied by passes that ended in the period; `copyingMs`: the time passes were
   * running in it (overlaps once), the rate's divisor: waiting for users is not copying.
   */
  throughput: { messages: number; bytes: number; passes: number; periodMs: number; copyingMs?: number };
  licenses: { total: number | null; used: number; left: number | null };
  /** How many entries a list shows before "and N more". */
  limit?: number;
}

function signed(n: number): string {
  return n > 0 ? `+${formatCount(n)}` : n < 0 ? `−${formatCount(-n)}` : '±0';
}

/** `Completed 12 (+5) · Failed 1 (+1) · …`: counts with the change since the previous digest. */
export function countsWithChange(counts: Record<string, number>, previous?: Record<string, number>): string {
  if (!previous) return countsLine(counts);
  const parts = ORDER.filter((s) => (counts[s] ?? 0) > 0 || (previous[s] ?? 0) > 0).map((s) => {
    const d = (counts[s] ?? 0) - (previous[s] ?? 0);
    return `${statusLabel(s)} ${formatCount(counts[s] ?? 0)}${d ? ` (${signed(d)})` : ''}`;
  });
  return parts.length ? parts.join(' · ') : 'No mailboxes yet';
}

/** A list block of at most `limit` lines, then "and N more" with the command that shows them all. */
function listBlock(lines: string[], limit: number, command: string): Block {
  return {
    type: 'list',
    items: lines.slice(0, limit),
    more: lines.length > limit ? `…and ${formatCount(lines.length - limit)} more (see \`${command}\`)` : undefined,
  };
}

function perHour(n: number, ms: number): number {
  return ms > 0 ? n / (ms / 3_600_000) : 0;
}

/**
 * The project digest, posted in the project's channel on its schedule and by
 * `/migrate digest`: counts per status with the change since the last digest, who is
 * waiting (how long, how often asked; stalled ones apart), failures and completions of
 * the period, throughput and licenses. Long lists show the top entries and how many more.
 */
export function digestMessage(v: DigestView): Message {
  const limit = v.limit ?? 10;
  const period = `since ${v.sinceDigest ? 'the last digest' : 'the project started'}`;
  const stalled = v.waiting.filter((w) => w.stalled);
  const waiting = v.waiting.filter((w) => !w.stalled);
  const copied = copiedTotal(v.completed);
  const blocks: Block[] = [
    { type: 'header', text: `Digest — ${v.projectName}` },
    { type: 'context', text: `As of ${formatTime(v.now)}; changes ${period} (${formatTime(v.since)}).` },
    { type: 'text', text: countsWithChange(v.counts, v.previousCounts) },
    ...waitingBlocks(waiting, stalled, limit),
    ...failedBlocks(v.failed, period, limit),
    ...completedBlocks(v.completed, copied, period, limit),
    {
      type: 'facts',
      facts: [
        { label: 'Throughput', value: throughputText(v.throughput, period) },
        { label: 'Licenses', value: licensesLine(v.licenses) },
      ],
    },
  ];
  const text = [
    `Digest for ${v.projectName}: ${countsWithChange(v.counts, v.previousCounts)}.`,
    waiting.length ? `${formatCount(waiting.length)} waiting for their user.` : '',
    stalled.length ? `${formatCount(stalled.length)} stalled.` : '',
    v.failed.length ? `${formatCount(v.failed.length)} failed ${period}.` : '',
    v.completed.length
      ? `${formatCount(v.completed.length)} completed ${period} ` +
        `(${formatCount(copied.messages)} messages, ${formatBytes(copied.bytes)}).`
      : '',
    `Licenses: ${licensesLine(v.licenses)}.`,
  ]
    .filter(Boolean)
    .join(' ');
  const tone: Message['tone'] = v.failed.length || stalled.length ? 'warning' : 'info';
  return { kind: 'digest', text, tone, blocks };
}

/** The messages and bytes of the mailboxes that completed in the period. */
function copiedTotal(completed: CompletedView[]): { messages: number; bytes: number } {
  return {
    messages: completed.reduce((s, c) => s + c.messages, 0),
    bytes: completed.reduce((s, c) => s + c.bytes, 0),
  };
}

/** What passes copied in the period; the rate is per hour of copying where that time is known. */
function throughputText(t: DigestView['throughput'], period: string): string {
  if (!t.passes) return `nothing copied ${period}`;
  return t.copyingMs
    ? `${formatCount(t.messages)} messages, ${formatBytes(t.bytes)} copied ` +
        `in ${plural(t.passes, 'pass', 'passes')} — ${formatCount(Math.round(perHour(t.messages, t.copyingMs)))} ` +
        `messages/h, ${formatBytes(Math.round(perHour(t.bytes, t.copyingMs)))}/h while ` +
        `copying (${formatDuration(t.copyingMs)} of copying in ${formatDuration(t.periodMs)})`
    : `${formatCount(t.messages)} messages, ${formatBytes(t.bytes)} copied ` +
        `in ${plural(t.passes, 'pass', 'passes')} over ${formatDuration(t.periodMs)}`;
}

/** One mailbox waiting for its user: how long, and how often asked. */
function waitLine(w: WaitingView): string {
  return (
    `${w.address} — waiting ${formatDuration(w.waitingMs)}, ` +
    (w.asked === 0 ? 'no request sent yet' : `asked ${w.asked === 1 ? 'once' : `${formatCount(w.asked)} times`}`)
  );
}

/** Who is waiting for their user, and apart who stalled (with what to do about them). */
function waitingBlocks(waiting: WaitingView[], stalled: WaitingView[], limit: number): Block[] {
  const blocks: Block[] = [];
  if (waiting.length) {
    blocks.push({ type: 'text', text: `⏳ Waiting for their user (${formatCount(waiting.length)}):` });
    blocks.push(listBlock(waiting.map(waitLine), limit, '/migrate status'));
  }
  if (stalled.length) {
    blocks.push({
      type: 'text',
      text: `🛑 Stalled — no answer after the last reminder (${formatCount(stalled.length)}):`,
    });
    blocks.push(listBlock(stalled.map(waitLine), limit, '/migrate status'));
    blocks.push({
      type: 'context',
      text:
        'Ask again with `/migrate resend ADDRESS`, or enter ' +
        'the credentials with the user: `/migrate form ADDRESS`.',
    });
  }
  return blocks;
}

/** The mailboxes that failed in the period, with the reason; nothing when none did. */
function failedBlocks(failed: FailedView[], period: string, limit: number): Block[] {
  if (!failed.length) return [];
  return [
    { type: 'text', text: `❌ Failed ${period} (${formatCount(failed.length)}):` },
    listBlock(
      failed.map((f) => `${f.address} — ${f.reasonText}${f.detail ? ` (${f.detail})` : ''}`),
      limit,
      '/migrate status',
    ),
  ];
}

/** The mailboxes that completed in the period, with what each copied; nothing when none did. */
function completedBlocks(
  completed: CompletedView[],
  copied: { messages: number; bytes: number },
  period: string,
  limit: number,
): Block[] {
  if (!completed.length) return [];
  return [
    {
      type: 'text',
      text:
        `✅ Completed ${period} (${formatCount(completed.length)}): ` +
        `${formatCount(copied.messages)} messages, ${formatBytes(copied.bytes)}`,
    },
    listBlock(
      completed.map((c) => `${c.address} — ${formatCount(c.messages)} messages, ${formatBytes(c.bytes)}`),
      limit,
      '/migrate status',
    ),
  ];
}

/** Reply to `/migrate digest` when the digest went to the project's channel. */
export function digestPostedMessage(projectName: string): Message {
  const text = `Digest of ${projectName} posted in the project's channel.`;
  return { kind: 'digest-posted', text, tone: 'success', blocks: [{ type: 'text', text: `📰 ${text}` }] };
}

const KIND_LABEL: Record<string, string> = {
  'item-queued': 'queued',
  'item-running': 'running',
  'item-completed': 'completed',
  'item-failed': 'failed',
  'item-stopped': 'stopped',
  'item-waiting': 'waiting',
  'item-progress': 'progress',
  'item-credentials-requested': 'asked for credentials',
  'item-credentials-received': 'credentials received',
  'item-credentials-refused': 'credentials refused',
  'items-status': 'bulk status changes',
};

/**
 * Several thread posts that arrived in a burst, as one post (the notifier coalesces a
 * thread's posts when they come faster than a surface should take them): a summary by
 * kind, then each post's line in order, the first `limit` of them.
 */
export function threadUpdatesPost(posts: { kind: string; text: string }[], limit = 15): Message {
  const byKind = new Map<string, number>();
  for (const p of posts) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1);
  const summary = [...byKind]
    .map(([k, n]) => `${formatCount(n)} ${KIND_LABEL[k] ?? k.replace(/^item-/, '').replace(/-/g, ' ')}`)
    .join(', ');
  const head = `📋 ${plural(posts.length, 'update')}: ${summary}`;
  const errors = posts.some((p) => p.kind === 'item-failed' || p.kind === 'item-credentials-refused');
  return {
    kind: 'thread-updates',
    text: [
      head,
      ...posts.slice(0, limit).map((p) => p.text),
      ...(posts.length > limit ? [`…and ${formatCount(posts.length - limit)} more (see \`/migrate status\`)`] : []),
    ].join('\n'),
    tone: errors ? 'warning' : 'info',
    blocks: [
      { type: 'text', text: head },
      listBlock(
        posts.map((p) => p.text),
        limit,
        '/migrate status',
      ),
    ],
  };
}
