import type { Block, BulkStatusView, Message } from './model.ts';
import { formatBytes, formatCount, formatDuration, plural } from './format.ts';
import { extraDetail, statusLabel } from './status.ts';
import { verificationLine, type VerificationView } from './verification.ts';
import { passKindWords, type PassKindView } from './passes.ts';
import { pausedPost } from './schedule.ts';

/** Figures of a pass as posts show them. */
export interface FiguresView {
  messagesFound: number;
  bytesFound: number;
  messagesCopied: number;
  bytesCopied: number;
  messagesPresent: number;
  messagesSkipped: number;
  durationMs: number;
  skippedReasons?: Record<string, number>;
  /** Messages already copied whose flags (read, flagged, keywords) a delta pass updated. */
  flagsUpdated?: number;
  /** The verification at the end of the pass, when it checked a folder. */
  verification?: VerificationView;
  /** The pass's kind and date window. */
  pass?: PassKindView;
  /** Messages left for a later pass (outside the pass's dates). */
  leftOut?: number;
}

/** A status change of an item, posted in its thread. */
export interface StatusPostView {
  address: string;
  from: string;
  to: string;
  actor: string;
  reasonText?: string;
  /** The failure reason's code (`SourceCredentials`…): some come with what to do next. */
  reason?: string;
  detail?: string;
  figures?: FiguresView;
  /** The pass was paused because the copy window closed: when it opens, in the project's zone. */
  paused?: { until: Date; timeZone: string };
}

/** What an admin does after a failure whose fix is known. */
function nextStep(v: StatusPostView): string | undefined {
  if (v.reason === 'SourceCredentials' || v.reason === 'DestinationCredentials') {
    const side = v.reason === 'SourceCredentials' ? 'source' : 'destination';
    return (
      `\`/migrate start ${v.address}\` forgets the refused ${side} password and asks the user ` +
      `again (as \`/migrate clear-credentials ${v.address} --${side}\` then \`start\` would).`
    );
  }
  return undefined;
}

/**
 * The post for a status change: Waiting, Queued, Running, Failed with the reason, Completed with the figures, Stopped.
 */
export function statusPost(v: StatusPostView): Message {
  const a = v.address;
  switch (v.to) {
    case 'Failed':
      return failedPost(v);
    case 'Completed':
      return completedPost(a, v.figures);
    case 'Stopped':
      return simple(
        'item-stopped',
        `⏹️ ${a} stopped by ${v.actor}.${v.figures?.messagesCopied ? ` ${figuresLine(v.figures)} so far.` : ''}`,
        'warning',
      );
    case 'Queued':
      return queuedPost(v);
    case 'Running':
      return simple('item-running', `🔄 ${a} is being migrated.`);
    case 'WaitingForUser':
      return simple('item-waiting', `⏳ ${a} is waiting for its user to enter credentials.`);
    default:
      return simple('item-status', `${a}: ${statusLabel(v.from)} → ${statusLabel(v.to)}`);
  }
}

/** Failed: the reason, the server's words when they say more, the figures so far, and the fix where it is known. */
function failedPost(v: StatusPostView): Message {
  const a = v.address;
  const next = nextStep(v);
  // The server's words only when they say more than the reason's sentence.
  const said = extraDetail(v.reasonText, v.detail);
  // An internal failure (our database, our bug) is no server's word.
  const who = v.reason === 'Internal' ? 'Error' : 'Server said';
  const quoted = said ? (v.reason === 'Internal' ? ` Error: "${said}"` : ` The server said: "${said}"`) : '';
  const text = `❌ ${a} failed: ${v.reasonText ?? 'unknown reason'}${quoted}${next ? ` ${next}` : ''}`;
  const blocks: Block[] = [{ type: 'text', text: `❌ *${a}* failed: ${v.reasonText ?? 'unknown reason'}` }];
  if (said) blocks.push({ type: 'context', text: `${who}: ${said}` });
  if (v.figures?.messagesCopied) blocks.push({ type: 'context', text: figuresLine(v.figures) });
  if (next) blocks.push({ type: 'context', text: next });
  return { kind: 'item-failed', text, tone: 'error', blocks };
}

/** Completed: the figures of the pass and what its verification found. */
function completedPost(a: string, f: FiguresView | undefined): Message {
  const verified = f?.verification ? `Verified: ${verificationLine(f.verification)}.` : undefined;
  const text = `✅ ${a} completed${f ? `: ${figuresLine(f)}` : '.'}${verified ? `\n${verified}` : ''}`;
  const blocks: Block[] = [{ type: 'text', text: `✅ *${a}* completed` }];
  if (f) blocks.push({ type: 'facts', facts: completedFacts(f) });
  if (verified) blocks.push({ type: 'context', text: verified });
  return { kind: 'item-completed', text, tone: 'success', blocks };
}

/** A completed pass's figures as facts; a pre-stage or a pass with a date range says so, a plain full pass not. */
function completedFacts(f: FiguresView): { label: string; value: string }[] {
  return [
    ...(f.pass && (f.pass.type !== 'full' || f.pass.since || f.pass.before)
      ? [{ label: 'Pass', value: passKindWords(f.pass) }]
      : []),
    {
      label: 'Copied',
      value: `${formatCount(f.messagesCopied)} messages, ${formatBytes(f.bytesCopied)}`,
    },
    ...(f.leftOut ? [{ label: 'Left for a later pass', value: formatCount(f.leftOut) }] : []),
    { label: 'Already there', value: formatCount(f.messagesPresent) },
    ...(f.flagsUpdated ? [{ label: 'Flags updated', value: formatCount(f.flagsUpdated) }] : []),
    { label: 'Skipped', value: skippedText(f) },
    { label: 'Duration', value: formatDuration(f.durationMs) },
  ];
}

/** Queued: newly, or again after a pass that paused for the copy window or ended without an outcome. */
function queuedPost(v: StatusPostView): Message {
  const a = v.address;
  // A pass that ended without an outcome (MailFerry stopped, or its process died).
  if (v.from === 'Running' && v.paused)
    return pausedPost(
      a,
      v.paused.until,
      v.paused.timeZone,
      v.figures?.messagesCopied ? figuresLine(v.figures) : undefined,
    );
  if (v.from === 'Running')
    return simple('item-interrupted', `⏸️ ${a}: the pass was interrupted; it resumes from its last checkpoint.`);
  return simple('item-queued', `🕒 ${a} is queued for migration.`);
}

function simple(kind: string, text: string, tone: Message['tone'] = 'info'): Message {
  return { kind, text, tone, blocks: [{ type: 'text', text }] };
}

function skippedText(f: FiguresView): string {
  if (!f.messagesSkipped) return '0';
  const reasons = Object.entries(f.skippedReasons ?? {}).map(([r, n]) => `${formatCount(n)} ${r}`);
  return `${formatCount(f.messagesSkipped)}${reasons.length ? ` (${reasons.join(', ')})` : ''}`;
}

/** `1,234 messages, 56 MB copied, 3 skipped, in 2 min`. */
export function figuresLine(f: FiguresView): string {
  return (
    `${formatCount(f.messagesCopied)} messages, ${formatBytes(f.bytesCopied)} ` +
    `copied${f.messagesPresent ? `, ${formatCount(f.messagesPresent)} already there` : ''}` +
    `${f.flagsUpdated ? `, flags updated on ${formatCount(f.flagsUpdated)}` : ''}` +
    `${f.messagesSkipped ? `, ${formatCount(f.messagesSkipped)} skipped` : ''}, in ${formatDuration(f.durationMs)}`
  );
}

/**
 * Progress of a running pass (edited in place where the surface can). A percentage only
 * once every folder is counted: while folders are listed, or some have no count yet (a
 * server without LIST-STATUS or STATUS), it says what is copied so far and what is left
 * to count, never "100%" of a part.
 */
export function progressPost(
  address: string,
  f: FiguresView,
  folder?: string,
  stage?: { phase: 'listing' | 'copying'; foldersTotal: number; foldersUncounted: number },
): Message {
  const now = folder ? `, now in ${folder}` : '';
  if (stage?.phase === 'listing') {
    const text = `🔄 ${address}: listing folders…`;
    return { kind: 'item-progress', text, tone: 'info', blocks: [{ type: 'text', text }] };
  }
  if (stage && stage.foldersUncounted > 0) {
    const text =
      `🔄 ${address}: ${formatCount(f.messagesCopied)} messages copied so far (${formatBytes(f.bytesCopied)}); ` +
      `${formatCount(stage.foldersUncounted)} of ${plural(stage.foldersTotal, 'folder')} still to count${now}`;
    return { kind: 'item-progress', text, tone: 'info', blocks: [{ type: 'text', text }] };
  }
  const pct = f.messagesFound
    ? Math.min(100, Math.floor(((f.messagesCopied + f.messagesPresent + f.messagesSkipped) / f.messagesFound) * 100))
    : 0;
  const text =
    `🔄 ${address}: ${pct}% — ${formatCount(f.messagesCopied)} ` +
    `of ${formatCount(f.messagesFound)} messages copied (${formatBytes(f.bytesCopied)})${now}`;
  return { kind: 'item-progress', text, tone: 'info', blocks: [{ type: 'text', text }] };
}

/** Who was asked for credentials and how. */
export function credentialsRequestedPost(
  address: string,
  sides: string[],
  reached: { recipient: string; via: string; ok: boolean; why?: string }[],
  resend: boolean,
): Message {
  const what = sides.length === 2 ? 'source and destination credentials' : `${sides[0]} credentials`;
  const lines = reached.map((r) =>
    r.ok
      ? `asked ${r.recipient} by ${r.via}`
      : `could not reach ${r.recipient} by ${r.via}: ${r.why ?? 'unknown error'}`,
  );
  const anyOk = reached.some((r) => r.ok);
  const text =
    `⏳ ${address} is waiting for ${what}. ${resend ? 'New request: ' : ''}` +
    `${lines.join('; ') || 'no channel could send the request'}.`;
  return {
    kind: 'item-credentials-requested',
    text,
    tone: anyOk ? 'info' : 'warning',
    blocks: [
      { type: 'text', text: `⏳ *${address}* is waiting for ${what}.` },
      { type: 'list', items: lines.length ? lines : ['No channel could send the request.'] },
      ...(!anyOk
        ? [
            {
              type: 'context' as const,
              text:
                `Nobody was reached. Fix the delivery, then \`/migrate resend ${address}\`, ` +
                `or open the form yourself with \`/migrate form ${address}\`.`,
            },
          ]
        : []),
    ],
  };
}

/** Credentials arrived from the form. */
export function credentialsReceivedPost(address: string, sides: string[], by: string): Message {
  return simple(
    'item-credentials-received',
    `🔐 ${address}: ${sides.join(' and ')} credentials received from ${by} and verified.`,
    'success',
  );
}

/** An end user's attempt on the form was refused. */
export function credentialsRefusedPost(
  address: string,
  side: string,
  attempt: number,
  final: boolean,
  detail?: string,
): Message {
  return simple(
    'item-credentials-refused',
    final
      ? `❌ ${address}: the ${side} server refused the credentials entered ` +
          `(attempt ${attempt}, the last).${detail ? ` Server said: "${detail}"` : ''}`
      : `⚠️ ${address}: the ${side} server refused the credentials entered (attempt ${attempt}); ` +
          `the user may try again.${detail ? ` Server said: "${detail}"` : ''}`,
    final ? 'error' : 'warning',
  );
}

/**
 * A user on the form could not be verified because a server did not answer: said once
 * per project and side until that server answers again, so the admin hears of it before
 * the users give up.
 */
export function serverUnreachableFromFormPost(
  address: string,
  projectName: string,
  side: string,
  server: string,
  detail?: string,
): Message {
  return simple(
    'server-unreachable-from-form',
    `🔌 The ${side} server of project ${projectName} (${server}) could not be reached when the user ` +
      `of ${address} entered their credentials on the form${detail ? `: ${detail}` : ''}. Users see "we could not ` +
      `reach the mail server" and nothing counts against them. Check the server, or the project's ${side} ` +
      `URL (\`project set ${projectName}\` looks at both servers again). Said once until the server answers.`,
    'warning',
  );
}

/** Items added by a command, as the reply and the thread's first post. */
export function addedMessage(
  projectName: string,
  added: { sourceAddress: string; destinationAddress: string }[],
  refused: { line?: number; input: string; reason: string }[],
  limit = 20,
): Message {
  const lines = added
    .slice(0, limit)
    .map((i) =>
      i.destinationAddress !== i.sourceAddress ? `${i.sourceAddress} → ${i.destinationAddress}` : i.sourceAddress,
    );
  const bad = refused.slice(0, limit).map((r) => `${r.line ? `line ${r.line}: ` : ''}${r.reason}`);
  const head =
    `${plural(added.length, 'mailbox', 'mailboxes')} added ` +
    `to ${projectName}${refused.length ? `; ${plural(refused.length, 'line')} refused` : ''}.`;
  return {
    kind: 'items-added',
    text: [head, ...bad].join('\n'),
    tone: refused.length ? (added.length ? 'warning' : 'error') : 'success',
    blocks: [
      { type: 'text', text: `${added.length ? '➕' : '⚠️'} ${head}` },
      ...(lines.length
        ? [
            {
              type: 'list' as const,
              items: lines,
              more: added.length > limit ? `…and ${formatCount(added.length - limit)} more` : undefined,
            },
          ]
        : []),
      ...(bad.length
        ? [
            { type: 'text' as const, text: 'Refused:' },
            {
              type: 'list' as const,
              items: bad,
              more: refused.length > limit ? `…and ${formatCount(refused.length - limit)} more` : undefined,
            },
          ]
        : []),
      ...(added.length
        ? [
            {
              type: 'context' as const,
              text:
                `Start with \`/migrate start --all\` or \`/migrate start ` +
                `ADDRESS\`. Status posts will follow in this thread.`,
            },
          ]
        : []),
    ],
  };
}

/** The summary of a batch of status changes (at most `limit` addresses kept). */
export function bulkStatusView(
  changes: { address: string; to: string }[],
  verb = 'started',
  limit = 10,
): BulkStatusView {
  const counts: Record<string, number> = {};
  for (const c of changes) counts[c.to] = (counts[c.to] ?? 0) + 1;
  return { verb, total: changes.length, counts, first: changes.slice(0, limit) };
}

/** Several summaries of one kind of change as one (the notifier merges those that queue up in a thread). */
export function mergeBulkStatus(views: [BulkStatusView, ...BulkStatusView[]], limit = 10): BulkStatusView {
  const counts: Record<string, number> = {};
  for (const v of views) for (const [s, n] of Object.entries(v.counts)) counts[s] = (counts[s] ?? 0) + n;
  return {
    verb: views[0].verb,
    total: views.reduce((n, v) => n + v.total, 0),
    counts,
    first: views.flatMap((v) => v.first).slice(0, limit),
  };
}

/**
 * Many items of a thread changed status in one bulk command (a start --all): one post with
 * the counts per new status and the first addresses, instead of one post per item.
 */
export function bulkStatusPost(v: BulkStatusView): Message {
  const counts = Object.entries(v.counts)
    .map(([s, n]) => `${formatCount(n)} ${statusLabel(s).toLowerCase()}`)
    .join(', ');
  const head = `▶️ ${plural(v.total, 'mailbox', 'mailboxes')} ${v.verb}: ${counts}`;
  const lines = v.first.map((c) => `${c.address}: ${statusLabel(c.to)}`);
  const more =
    v.total > lines.length ? `…and ${formatCount(v.total - lines.length)} more (see \`/migrate status\`)` : undefined;
  return {
    kind: 'items-status',
    text: [head, ...lines, ...(more ? [more] : [])].join('\n'),
    tone: 'info',
    blocks: [
      { type: 'text', text: head },
      { type: 'list', items: lines, more },
    ],
    bulk: v,
  };
}

/** What a batch of credential requests did (a start --all, a start --waiting, a reminder round), for its thread. */
export interface RequestSummaryView {
  /**
   * `start`: first requests; `resend`: asked again; `reminder`: reminders; `resumed`: requests a stop of MailFerry had
   * left unsent.
   */
  kind: 'start' | 'resend' | 'reminder' | 'resumed';
  /** People asked: one per item and recipient. */
  total: number;
  /** People reached, per channel (`email`, `Slack DM`, …). One reached both ways counts in both. */
  byChannel: Record<string, number>;
  /** People no channel reached (the item keeps waiting; its history says why). */
  notDelivered: number;
  /** Requests not sent because MailFerry stopped first: they go out after its next start. */
  notSent: number;
  /** The first lines, failures first (`could not reach … by …: why`), then `asked … by …`. */
  lines: string[];
  /** Lines there were in all (the rest are summed up as "and N more"). */
  lineCount: number;
}

/**
 * Characters of one line of a request summary: a server's long answer is cut, the post stays within Slack's and Teams'
 * limits.
 */
const SUMMARY_LINE_MAX = 300;

/**
 * One post for the credential requests of a bulk command, instead of one per item:
 * how many people were asked, by which channel, how many could not be reached (with the
 * first reasons) and what to do about them. Bounded in size whatever the batch.
 */
export function credentialsRequestedSummaryPost(v: RequestSummaryView): Message {
  const who = plural(v.total, 'user');
  const head =
    v.kind === 'reminder'
      ? `🔔 Reminded ${who}`
      : v.kind === 'resend'
        ? `📨 Asked ${who} again for their credentials`
        : v.kind === 'resumed'
          ? `📨 Asked ${who} whose credential request MailFerry had not sent before it stopped`
          : `📨 Asked ${who} for their credentials`;
  const parts = Object.entries(v.byChannel)
    .sort((a, b) => b[1] - a[1])
    .map(([channel, n]) => `${formatCount(n)} by ${channel}`);
  if (v.notDelivered) parts.push(`${formatCount(v.notDelivered)} not delivered`);
  if (v.notSent) parts.push(`${formatCount(v.notSent)} not sent yet`);
  const text1 = `${head}: ${parts.join(', ') || 'nothing sent'}.`;
  const lines = v.lines.map((l) => (l.length > SUMMARY_LINE_MAX ? `${l.slice(0, SUMMARY_LINE_MAX - 1)}…` : l));
  const more =
    v.lineCount > lines.length
      ? `…and ${formatCount(v.lineCount - lines.length)} more (each ` +
        `mailbox's history has its line: \`/migrate status ADDRESS\`)`
      : undefined;
  const notes = [
    ...(v.notDelivered
      ? [
          `Fix the delivery, then \`/migrate start --waiting\` asks ` +
            `every waiting user again, or \`/migrate resend ADDRESS\` one.`,
        ]
      : []),
    ...(v.notSent
      ? [
          `MailFerry stopped before ${plural(v.notSent, 'request was', 'requests were')} ` +
            `sent; they go out after it starts again.`,
        ]
      : []),
  ];
  return {
    kind: 'items-credentials-requested',
    text: [text1, ...lines, ...(more ? [more] : []), ...notes].join('\n'),
    tone: v.notDelivered || v.notSent ? 'warning' : 'info',
    blocks: [
      { type: 'text', text: text1 },
      ...(lines.length ? [{ type: 'list' as const, items: lines, more }] : []),
      ...notes.map((text) => ({ type: 'context' as const, text })),
    ],
  };
}
