import { defineCommand, type CommandContext } from './types.ts';
import type { Engine, Project } from '../../engine/engine.ts';
import {
  HISTORY_LIMIT,
  extraDetail,
  projectStatusMessage,
  projectsOverviewMessage,
  itemStatusMessage,
  statusLabel,
} from '../../cards/status.ts';
import { verificationSummary, type VerificationView } from '../../cards/verification.ts';
import { serverTimeZone } from '../scheduler/cron.ts';
import {
  passCopiedWords,
  passKindOfText,
  passKindWords,
  type PassKindView,
  type PassView,
} from '../../cards/passes.ts';
import { PROJECT_OPTION, itemTiming, itemView, reasonText, resolveProject, windowView } from './shared.ts';

/**
 * `status`: the project (counts per status, licenses, every item with status and reason) or one mailbox with its
 * history.
 */
export const status = defineCommand({
  name: 'status',
  summary: 'Show the project (counts, licenses, every mailbox) or one mailbox with its history.',
  args: [{ name: 'ADDRESS', required: false, kind: 'address' }],
  options: [PROJECT_OPTION],
  examples: ['/migrate status', '/migrate status alice@old.example'],
  admin: true,
  async handler(ctx, { args, opts }) {
    if (!args.ADDRESS && opts.project === undefined && (await replyOverviewOfSeveral(ctx))) return;
    const project = await resolveProject(ctx, opts.project);
    if (!args.ADDRESS) await replyProjectStatus(ctx, project);
    else await replyItemStatus(ctx, project, args.ADDRESS);
  },
});

/**
 * Several projects in the channel: replies with an overview of each rather than "say which".
 * False with one or none, and nothing is said.
 */
async function replyOverviewOfSeveral(ctx: CommandContext): Promise<boolean> {
  const here = await ctx.engine.projectsInChannel(ctx.channelRef);
  if (here.length <= 1) return false;
  const overview = await Promise.all(
    here.map(async (p) => ({
      name: p.name,
      sourceUrl: p.sourceUrl,
      destinationUrl: p.destinationUrl,
      ...(await ctx.engine.projectCounts(p)),
    })),
  );
  await ctx.reply(projectsOverviewMessage(overview));
  return true;
}

/** The project: counts, licenses, admin credentials, every item, the copy window and scheduled starts. */
async function replyProjectStatus(ctx: CommandContext, project: Project): Promise<void> {
  const s = await ctx.engine.projectStatus(project);
  const admin = Object.fromEntries((await ctx.engine.adminSides(project.id)).map((a) => [a.side, a.kind]));
  const now = ctx.engine.now();
  const scheduled = await ctx.engine.scheduledStarts(s.project);
  await ctx.reply(
    projectStatusMessage({
      name: s.project.name,
      sourceUrl: s.project.sourceUrl,
      destinationUrl: s.project.destinationUrl,
      selfService: s.project.selfService,
      counts: s.counts,
      licenses: s.licenses,
      total: s.total,
      items: s.items.map((i) => ({ ...itemView(i), timing: itemTiming(i, s.project, now) })),
      admin,
      window: windowView(s.project, now),
      ...(scheduled.next
        ? {
            scheduled: {
              count: scheduled.count,
              next: scheduled.next,
              timeZone: project.digestTz ?? serverTimeZone(),
            },
          }
        : {}),
    }),
  );
}

/** One mailbox: its figures, its latest history, its folders, skipped and altered messages, its passes. */
async function replyItemStatus(ctx: CommandContext, project: Project, address: string): Promise<void> {
  const item = await ctx.engine.getItem(project, address);
  const [history, historyTotal, passes] = await Promise.all([
    ctx.engine.history(item.id, HISTORY_LIMIT),
    ctx.engine.historyCount(item.id),
    ctx.engine.passHistory(item.id),
  ]);
  const copy = await ctx.engine.itemFolders(item.id);
  await ctx.reply(
    itemStatusMessage(
      project.name,
      {
        ...itemView(item),
        timing: itemTiming(item, item.project, ctx.engine.now()),
        passCount: item.passCount,
        lastPassMs: item.lastPassMs,
        messagesPresent: item.messagesPresent,
      },
      history.map((h) => ({
        at: h.at,
        actor: h.actor,
        kind: h.kind,
        fromStatus: h.fromStatus,
        toStatus: h.toStatus,
        summary: describeEvent(h.kind, h.fromStatus, h.toStatus, h.detail),
      })),
      copyView(copy, item.lastVerification, passes),
      historyTotal,
      project.digestTz ?? serverTimeZone(),
    ),
  );
}

/** What was copied, as the item's status shows it: folders, skipped and altered messages, verification, passes. */
function copyView(
  copy: Awaited<ReturnType<Engine['itemFolders']>>,
  lastVerification: string | null,
  passes: Awaited<ReturnType<Engine['passHistory']>>,
) {
  return {
    folders: copy.folders.map((f) => ({ ...f, bytesCopied: Number(f.bytesCopied) })),
    skipped: copy.skipped.map((s) => ({
      sourceFolder: s.sourceFolder,
      uid: s.uid,
      size: s.size,
      reason: s.reason,
    })),
    altered: copy.altered.map((a) => ({
      sourceFolder: a.sourceFolder,
      uid: a.uid,
      destUid: a.destUid,
      sourceSize: a.sourceSize,
      destSize: a.destSize,
      reason: a.reason,
    })),
    verification: parseVerification(lastVerification),
    passes: passes.map(passView),
  };
}

/** A pass's end in the history, as the passes list shows it. */
function passView(h: { at: Date; toStatus: string | null; detail: Record<string, unknown> }): PassView {
  const f = (h.detail.figures ?? {}) as {
    messagesCopied?: number;
    bytesCopied?: number;
    leftOut?: number;
    pass?: PassKindView;
  };
  return {
    at: h.at,
    outcome: h.toStatus ?? '',
    pass: f.pass,
    messagesCopied: f.messagesCopied ?? 0,
    bytesCopied: f.bytesCopied ?? 0,
    leftOut: f.leftOut ?? 0,
  };
}

/** The stored verification of the last pass (JSON written by the engine), or null when absent or unreadable. */
function parseVerification(json: string | null): VerificationView | null {
  if (!json) return null;
  try {
    const v = JSON.parse(json) as VerificationView;
    return typeof v?.foldersChecked === 'number' && Array.isArray(v.foldersShort) ? v : null;
  } catch {
    return null;
  }
}

/** One history entry in words. */
export function describeEvent(
  kind: string,
  from: string | null,
  to: string | null,
  detail: Record<string, unknown>,
): string {
  const change = from && to && from !== to ? `${statusLabel(from)} → ${statusLabel(to)}` : '';
  const sentence = typeof detail.reason === 'string' ? reasonText(detail.reason) : undefined;
  const said = typeof detail.detail === 'string' ? extraDetail(sentence, detail.detail) : undefined;
  const reason = sentence ? `: ${sentence}${said ? ` (${said})` : ''}` : '';
  const sides = Array.isArray(detail.sides)
    ? ` (${detail.sides.join(', ')})`
    : typeof detail.side === 'string'
      ? ` (${detail.side})`
      : '';
  const what: Record<string, string> = {
    'item.added': 'added',
    submit: 'started',
    'credentials-received': 'credentials received',
    'credentials-refused': 'credentials refused',
    claim: 'pass started',
    'pass-completed': 'pass completed',
    'pass-failed': 'pass failed',
    'pass-stopped': 'pass stopped',
    stop: 'stopped',
    'clear-credentials': 'credentials cleared',
    resend: 'request sent again',
    'item.deleted': 'deleted',
    'license.consumed': 'license consumed',
    recovered: 'resumed after a restart',
    interrupted: 'interrupted',
    'item.credentials-needed': 'credentials needed',
    'item.credentials-received': 'credentials received',
    'item.credentials-refused': 'credentials refused',
    'item.credentials-cleared': 'credentials cleared',
    'item.stop-requested': 'stop requested',
    'credentials.stored': 'credentials stored',
    'credentials.refused': 'credentials refused',
    'credentials.unverified': 'credentials kept unverified',
    'credentials.wiped': 'credentials wiped',
    'request.sent': 'credential request sent',
    'request.failed': 'credential request not delivered',
    'post.failed': 'thread post not delivered',
    'form.link-created': 'private form link created',
    'start.scheduled':
      'start scheduled' + (typeof detail.at === 'string' ? ` for ${detail.at.slice(0, 16).replace('T', ' ')} UTC` : ''),
    'start.cancelled': 'scheduled start cancelled',
    'start.refused': 'scheduled start not made',
    paused: 'paused: the copy window closed',
  };
  // The message repeats the reason's sentence when there is one: say it once.
  const extra =
    typeof detail.message === 'string' && !(sentence && extraDetail(sentence, detail.message) === undefined)
      ? `: ${detail.message}`
      : '';
  // Each pass's verification stays in its history line.
  const figures = detail.figures as
    | {
        verification?: VerificationView;
        pass?: PassKindView;
        messagesCopied?: number;
        bytesCopied?: number;
        leftOut?: number;
      }
    | undefined;
  const verified =
    figures?.verification && typeof figures.verification.foldersChecked === 'number'
      ? ` — verified: ${verificationSummary(figures.verification)}`
      : '';
  return (
    `${what[kind] ?? words(kind)}${sides}${change ? ` (${change})` : ''}` +
    `${passKindNote(detail, figures)}${reason}${extra}${verified}`
  );
}

/**
 * The kind of a start, a pass's start or a pass's end when it is not a plain full pass
 * (` — pre-stage (older than 30 days)`; at a pass's end with what it copied and left). A plain
 * full pass reads as before; the passes list of `status ADDRESS` names every kind.
 */
function passKindNote(
  detail: Record<string, unknown>,
  figures: { pass?: PassKindView; messagesCopied?: number; bytesCopied?: number; leftOut?: number } | undefined,
): string {
  const kind = figures?.pass ?? passKindOfText(detail.pass);
  if (!kind || (kind.type === 'full' && !kind.since && !kind.before)) return '';
  if (!figures?.pass) return ` — ${passKindWords(kind)}`;
  const copied = passCopiedWords({
    messagesCopied: figures.messagesCopied ?? 0,
    bytesCopied: figures.bytesCopied ?? 0,
    leftOut: figures.leftOut ?? 0,
  });
  return ` — ${passKindWords(kind)}: ${copied}`;
}

/** An event key no entry above knows, in words: `item.something-new` → "something new". */
function words(kind: string): string {
  return kind.replace(/^item\./, '').replace(/[._-]+/g, ' ');
}
