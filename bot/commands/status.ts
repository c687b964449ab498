import type { CommandDef } from './types.ts';
import { HISTORY_LIMIT, projectStatusMessage, projectsOverviewMessage, itemStatusMessage, statusLabel } from '../../cards/status.ts';
import { PROJECT_OPTION, itemView, reasonText, resolveProject } from './shared.ts';

/** `status`: the project (counts per status, licenses, every item with status and reason) or one mailbox with its history. */
export const status: CommandDef = {
  name: 'status',
  summary: 'Show the project (counts, licenses, every mailbox) or one mailbox with its history.',
  args: [{ name: 'ADDRESS', required: false, kind: 'address' }],
  options: [PROJECT_OPTION],
  examples: ['/migrate status', '/migrate status alice@old.example'],
  admin: true,
  async handler(ctx, { args, opts }) {
    if (!args.ADDRESS && typeof opts.project !== 'string') {
      // Several projects here: an overview of each rather than "say which".
      const here = await ctx.engine.projectsInChannel(ctx.channelRef);
      if (here.length > 1) {
        const overview = await Promise.all(here.map(async (p) => ({ name: p.name, sourceUrl: p.sourceUrl, destinationUrl: p.destinationUrl, ...(await ctx.engine.projectCounts(p)) })));
        await ctx.reply(projectsOverviewMessage(overview));
        return;
      }
    }
    const project = await resolveProject(ctx, opts.project);
    if (!args.ADDRESS) {
      const s = await ctx.engine.projectStatus(project);
      const admin = Object.fromEntries((await ctx.engine.adminSides(project.id)).map((a) => [a.side, a.kind]));
      await ctx.reply(
        projectStatusMessage({
          name: s.project.name,
          sourceUrl: s.project.sourceUrl,
          destinationUrl: s.project.destinationUrl,
          selfService: s.project.selfService,
          counts: s.counts,
          licenses: s.licenses,
          items: s.items.map(itemView),
          admin,
        }),
      );
      return;
    }
    const item = await ctx.engine.getItem(project, args.ADDRESS);
    const [history, historyTotal] = await Promise.all([ctx.engine.history(item.id, HISTORY_LIMIT), ctx.engine.historyCount(item.id)]);
    const copy = await ctx.engine.itemFolders(item.id);
    await ctx.reply(
      itemStatusMessage(
        project.name,
        { ...itemView(item), passCount: item.passCount, lastPassMs: item.lastPassMs, messagesPresent: item.messagesPresent },
        history.map((h) => ({
          at: h.at,
          actor: h.actor,
          kind: h.kind,
          fromStatus: h.fromStatus,
          toStatus: h.toStatus,
          summary: describeEvent(h.kind, h.fromStatus, h.toStatus, h.detail),
        })),
        {
          folders: copy.folders.map((f) => ({ ...f, bytesCopied: Number(f.bytesCopied) })),
          skipped: copy.skipped.map((s) => ({ sourceFolder: s.sourceFolder, uid: s.uid, size: s.size, reason: s.reason })),
        },
        historyTotal,
      ),
    );
  },
};

/** One history entry in words. */
export function describeEvent(kind: string, from: string | null, to: string | null, detail: Record<string, unknown>): string {
  const change = from && to && from !== to ? `${statusLabel(from)} → ${statusLabel(to)}` : '';
  const reason = typeof detail.reason === 'string' ? `: ${reasonText(detail.reason)}${typeof detail.detail === 'string' ? ` (${detail.detail})` : ''}` : '';
  const sides = Array.isArray(detail.sides) ? ` (${detail.sides.join(', ')})` : typeof detail.side === 'string' ? ` (${detail.side})` : '';
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
  };
  const extra = typeof detail.message === 'string' ? `: ${detail.message}` : '';
  return `${what[kind] ?? kind}${sides}${change ? ` (${change})` : ''}${reason}${extra}`;
}
